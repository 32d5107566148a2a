"""The hash chain: what is hashed, how, and how two writers never take the same link.

Each event's `hash` is sha256 over a canonical JSON of its content plus the previous event's hash
(`prev_hash`; "" for the first event). Changing, removing or inserting a row breaks the chain from
that row on, which `audit verify` recomputes. The canonical form uses only what the database gives
back unchanged (times in UTC to the microsecond, JSON made plain by mask.clean), so the bench,
verify and record() all compute the same bytes.
"""

import datetime
import hashlib
import json
from typing import Any

from django.db import connection

# Every column but the primary key and the hash itself, in a fixed order (also the CSV order).
HASHED_FIELDS = (
    "time",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "target_name",
    "before",
    "after",
    "request_id",
    "client_address",
    "job_id",
    "site_slug",
    "cluster_name",
    "detail",
    "prev_hash",
)

# pg_advisory_xact_lock(int, int): the two-key form lives in its own key space, so it never collides
# with the one-key locks that jobs take per site. 0x41554454 is "AUDT".
LOCK_KEYS = (0x41554454, 1)


def timestamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict[str, Any]) -> bytes:
    content = {name: row[name] for name in HASHED_FIELDS}
    content["time"] = timestamp(row["time"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def lock_chain() -> None:
    """Serialise writers until the current transaction ends (PostgreSQL).

    Without it two concurrent transactions read the same last hash and fork the chain. SQLite needs
    nothing: settings open its transactions IMMEDIATE, so only one writer is ever inside one."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", LOCK_KEYS)


def last_hash() -> str:
    from panel.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
