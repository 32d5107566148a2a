"""The audit benchmark's database: a valid hash chain of audit events over a year (the same canonical
form and sha256 as record(), so `audit verify` passes on it), 500 sites on 8 clusters (a few big
sites, many small: Zipf-like), 50 users and 20 actions, about 5% of events sharing a timestamp with
the one before; COPY in, indexes built after."""

from __future__ import annotations

import datetime
import json
import os
import random
import time
from collections.abc import Iterator
from typing import Any

from bench._django import ADMIN_URL, fresh_database, setup_django

DB_NAME = "panel_bench_audit"
SITES, CLUSTERS, USERS = 500, 8, 50
SEED = 20261129

# (action, weight, needs a site, starts a job)
ACTIONS = [
    ("auth.login", 14, False, False),
    ("auth.logout", 9, False, False),
    ("auth.login_failed", 3, False, False),
    ("site.deploy", 12, True, True),
    ("site.scale", 8, True, True),
    ("site.module_update", 8, True, True),
    ("site.backup", 10, True, True),
    ("site.restore", 1, True, True),
    ("site.edit", 6, True, False),
    ("site.create", 1, True, False),
    ("site.delete", 1, True, False),
    ("domain.create", 3, True, False),
    ("domain.delete", 1, True, False),
    ("manifest.submit", 4, True, False),
    ("manifest.approve", 3, True, False),
    ("manifest.reject", 1, True, False),
    ("job.reap", 2, True, True),
    ("cluster.sync", 10, False, False),
    ("user.role", 1, False, False),
    ("audit.export", 2, False, False),
]
ROLES = ["viewer", "operator", "operator", "operator", "approver", "admin"]
Actor = tuple[int | None, str, str]  # user id, username, role


def _changes(rng: random.Random, action: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str]:
    """An event's before, after and detail."""
    if action == "site.scale":
        r = rng.randint(1, 6)
        return {"replicas": r}, {"replicas": r + rng.choice((-1, 1, 2))}, ""
    if action == "site.edit":
        return {"image": "odoo:17.0-20260101"}, {"image": "odoo:17.0-20260201"}, ""
    if action == "site.module_update":
        return None, None, "modules: sale_stock, stock_account"
    return None, None, ""


class _Chain:
    """The events one after the other: their time, job numbers and hashes."""

    def __init__(self, rng: random.Random, n: int, site_cluster: dict[str, str]) -> None:
        from panel.audit.chain import event_hash

        self.event_hash = event_hash
        self.rng, self.site_cluster = rng, site_cluster
        self.when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=365)
        self.step = 365 * 86400 / n * 1.0526  # mean gap, keeping the 5% equal stamps in mind
        self.prev, self.job = "", 0
        self.spec = {a[0]: a for a in ACTIONS}

    def next(self, action: str, site: str, actor: Actor) -> dict[str, Any]:
        rng = self.rng
        if rng.random() >= 0.05:
            self.when += datetime.timedelta(microseconds=int(rng.expovariate(1 / self.step) * 1e6) + 1)
        _, _, with_site, starts_job = self.spec[action]
        uid, username, role = actor
        before, after, detail = _changes(rng, action)
        if action == "auth.login_failed":
            uid, username, role = None, "anonymous", ""
        if starts_job:
            self.job += 1
        if action == "job.reap":
            uid, username, role = None, "system", "system"
        row = {
            "time": self.when,
            "actor_user_id": uid,
            "actor_username": username,
            "actor_role": role,
            "action": action,
            "target_type": "site" if with_site else "user",
            "target_id": site[5:] if with_site else str(uid or ""),
            "target_name": site if with_site else username,
            "before": before,
            "after": after,
            "request_id": "" if action == "job.reap" else f"{rng.getrandbits(128):032x}",
            "client_address": f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 254)}",
            "job_id": self.job if starts_job else None,
            "site_slug": site if with_site else "",
            "cluster_name": self.site_cluster[site] if with_site else "",
            "detail": detail,
            "prev_hash": self.prev,
        }
        row["hash"] = self.prev = self.event_hash(row)
        return row


def generate(n: int) -> Iterator[dict[str, Any]]:
    """Rows in chain order, each with its prev_hash and hash, ready for COPY."""
    rng = random.Random(SEED)
    sites = [f"site-{i:03d}" for i in range(SITES)]
    site_weights = [1 / (rank + 1) ** 0.9 for rank in range(SITES)]
    users: list[Actor] = [(i + 1, f"user{i:02d}", ROLES[i % len(ROLES)]) for i in range(USERS)]
    user_weights = [1 / (rank + 1) ** 0.5 for rank in range(USERS)]
    names, weights = [a[0] for a in ACTIONS], [a[1] for a in ACTIONS]
    chain = _Chain(rng, n, {s: f"cluster-{i % CLUSTERS}" for i, s in enumerate(sites)})
    # Drawn in blocks: random.choices with weights is far faster for many draws at once.
    block = 10_000
    for start in range(0, n, block):
        size = min(block, n - start)
        actions = rng.choices(names, weights, k=size)
        picked_sites = rng.choices(sites, site_weights, k=size)
        picked_users = rng.choices(users, user_weights, k=size)
        for action, site, actor in zip(actions, picked_sites, picked_users, strict=True):
            yield chain.next(action, site, actor)


def seed(n: int) -> dict[str, float]:
    """COPY n chained rows in, with the secondary indexes dropped and rebuilt afterwards."""
    from django.db import connection

    from panel.audit.chain import HASHED_FIELDS

    columns = [*HASHED_FIELDS, "hash"]  # the chain's own field order, plus the hash

    figures = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'panel_auditevent' "
            "AND indexname <> 'panel_auditevent_pkey'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(f"COPY panel_auditevent ({', '.join(columns)}) FROM STDIN") as copy:
            for row in generate(n):
                values = [row[c] for c in columns]
                for json_field in ("before", "after"):
                    i = columns.index(json_field)
                    values[i] = None if row[json_field] is None else json.dumps(row[json_field])
                copy.write_row(values)
        figures["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("ANALYZE panel_auditevent")
        figures["index_s"] = time.perf_counter() - started
    return figures


def open_database(n: int, reuse: bool) -> bool:
    """Point Django at the bench database; True if it must be seeded."""
    import psycopg

    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DB_NAME}"
    if reuse:
        try:
            with psycopg.connect(url) as conn:
                (count,) = conn.execute("SELECT count(*) FROM panel_auditevent").fetchone()  # type: ignore[misc]
            if count >= n:
                os.environ["PANEL_DATABASE_URL"] = url
                setup_django()
                return False
        except psycopg.Error:
            pass
    fresh_database(DB_NAME)
    return True
