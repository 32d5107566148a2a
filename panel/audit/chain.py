"""The hash chain: what is hashed, how, and how two writers never take the same link.

Each event's `hash` covers a canonical JSON of its content plus the previous event's hash
(`prev_hash`; "" for the first event). Changing, removing or inserting a row breaks the chain from
that row on, which `audit verify` recomputes. The canonical form uses only what the database gives
back unchanged (times in UTC to the microsecond, JSON made plain by mask.clean), so the bench,
verify and record() all compute the same bytes.

New events are sealed (`hash_alg` "hmac-sha256"): an HMAC under a key that is not in the database
(panel/audit/keys.py), over the content plus the algorithm and the key's id, so whoever can rewrite
rows cannot recompute their hashes. Events from before keys were used keep a plain sha256
("sha256"); verify refuses one after the first sealed event, so a rewrite cannot downgrade.
"""

import datetime
import hashlib
import hmac
import json
from typing import Any

from django.db import connection

from panel.audit import keys

# Every column but the primary key, the hash and how it was made, in a fixed order (also the CSV order).
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
# How a row was hashed, stored beside the hash (and covered by it when sealed). Exports carry them.
SEAL_FIELDS = ("hash_alg", "key_id")
LEGACY = "sha256"
SEALED = "hmac-sha256"

# pg_advisory_xact_lock(int, int): the two-key form lives in its own key space, so it never collides
# with the one-key locks that jobs take per site. 0x41554454 is "AUDT".
LOCK_KEYS = (0x41554454, 1)


def timestamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict[str, Any]) -> bytes:
    content = {name: row[name] for name in HASHED_FIELDS}
    content["time"] = timestamp(row["time"])
    if row.get("hash_alg", LEGACY) != LEGACY:
        content.update({name: row[name] for name in SEAL_FIELDS})
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plain_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def keyed_hash(row: dict[str, Any], key: keys.Key) -> str:
    return hmac.new(key.secret, canonical(row), hashlib.sha256).hexdigest()


def seal(row: dict[str, Any], key: keys.Key | None = None) -> dict[str, Any]:
    """Set the row's hash_alg, key_id and hash, with the current key unless told."""
    key = key or keys.current()
    row.update(hash_alg=SEALED, key_id=key.id)
    row["hash"] = keyed_hash(row, key)
    return row


def event_hash(row: dict[str, Any]) -> str:
    """The hash the row should have, by its own hash_alg (a row without one is a legacy row).
    ValueError when its algorithm or key is unknown here."""
    alg = row.get("hash_alg", LEGACY)
    if alg == LEGACY:
        return plain_hash(row)
    if alg != SEALED:
        raise ValueError(f"unknown hash algorithm {alg!r}")
    key = keys.find(row["key_id"])
    if key is None:
        raise ValueError(f"key id {row['key_id']!r} is not configured")
    return keyed_hash(row, key)


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
