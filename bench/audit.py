"""The audit log at 1,000,000 events: the review page and the CSV export.

Seeds a dedicated PostgreSQL database (panel_bench_audit) with a valid hash chain (the same
canonical form and sha256 as record(), so `audit verify` passes on it) spread over a year, 500
sites on 8 clusters (a few big sites, many small: Zipf-like), 50 users and 20 actions, about 5%
of events sharing a timestamp with the one before. Rows go in with COPY, indexes are built after.

Then, through Django's full stack (test Client, DEBUG off):
- the review page filtered by site and by actor, first page and the 200th page (reached with the
  "older" cursor the page itself hands out; the cursor is looked up once, untimed), p95 over 50
  requests, each on a different site or actor;
- the peer in the same run: the same deep pages through Django's Paginator (COUNT(*) + OFFSET),
  the naive way, timed as query + render of the same table, without the request overhead
  (which flatters the peer);
- a full CSV export (every event) through the view (on PostgreSQL the server writes the CSV with
  COPY and the view relays it in blocks), rows/s and the process's RSS sampled as it streams;
  the same export the portable way (keyset chunks formatted in Python, as on SQLite) for scale;
- `audit verify` over the whole chain, rows/s.

    python bench/audit.py [--events N] [--reuse] [--write]

--reuse keeps an existing seeded database of the right size (seeding takes a minute or two).
The last line is `RESULT audit page_p95_ms=<worst page p95> export_rows_per_s=<CSV export>`.
Exits 0 whether or not the targets (p95 < 150 ms, >= 50,000 rows/s, flat memory) are met; exits 1
without a RESULT line when it cannot measure (no PostgreSQL, a page that does not answer, an
export that misses rows, a broken chain). bench/RESULTS.md is only written with --write (the
section is then what this run printed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import (  # noqa: E402
    ADMIN_URL,
    CannotMeasure,
    add_write_flag,
    fresh_database,
    percentile,
    printed_section,
    run,
    setup_django,
    transcript,
    write_section,
)

DB_NAME = "panel_bench_audit"
EVENTS = 1_000_000
SITES, CLUSTERS, USERS = 500, 8, 50
REQUESTS = 50
DEEP_PAGE = 200
SEED = 20261129
warnings.filterwarnings("ignore", message="No directory at")

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


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def generate(n: int) -> Any:
    """Rows in chain order, each with its prev_hash and hash, ready for COPY."""
    from panel.audit.chain import event_hash

    rng = random.Random(SEED)
    sites = [f"site-{i:03d}" for i in range(SITES)]
    site_cluster = {s: f"cluster-{i % CLUSTERS}" for i, s in enumerate(sites)}
    site_weights = [1 / (rank + 1) ** 0.9 for rank in range(SITES)]
    users: list[tuple[int | None, str, str]] = [
        (i + 1, f"user{i:02d}", ROLES[i % len(ROLES)]) for i in range(USERS)
    ]
    user_weights = [1 / (rank + 1) ** 0.5 for rank in range(USERS)]
    names, weights = [a[0] for a in ACTIONS], [a[1] for a in ACTIONS]
    spec = {a[0]: a for a in ACTIONS}
    now = datetime.datetime.now(datetime.UTC)
    when = now - datetime.timedelta(days=365)
    step = 365 * 86400 / n * 1.0526  # mean gap, keeping the 5% equal stamps in mind
    prev, job = "", 0
    # Drawn in blocks: random.choices with weights is far faster for many draws at once.
    block = 10_000
    for start in range(0, n, block):
        size = min(block, n - start)
        actions = rng.choices(names, weights, k=size)
        picked_sites = rng.choices(sites, site_weights, k=size)
        picked_users = rng.choices(users, user_weights, k=size)
        for action, site, (uid, username, role) in zip(actions, picked_sites, picked_users, strict=True):
            if rng.random() >= 0.05:
                when += datetime.timedelta(microseconds=int(rng.expovariate(1 / step) * 1e6) + 1)
            _, _, with_site, starts_job = spec[action]
            before: dict[str, Any] | None = None
            after: dict[str, Any] | None = None
            detail = ""
            if action == "site.scale":
                r = rng.randint(1, 6)
                before, after = {"replicas": r}, {"replicas": r + rng.choice((-1, 1, 2))}
            elif action == "site.edit":
                before, after = {"image": "odoo:17.0-20260101"}, {"image": "odoo:17.0-20260201"}
            elif action == "site.module_update":
                detail = "modules: sale_stock, stock_account"
            elif action == "auth.login_failed":
                uid, username, role = None, "anonymous", ""
            if starts_job:
                job += 1
            if action == "job.reap":
                uid, username, role = None, "system", "system"
            row = {
                "time": when,
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
                "job_id": job if starts_job else None,
                "site_slug": site if with_site else "",
                "cluster_name": site_cluster[site] if with_site else "",
                "detail": detail,
                "prev_hash": prev,
            }
            row["hash"] = prev = event_hash(row)
            yield row


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


def timed(fn: Any, samples: list[Any]) -> list[float]:
    times = []
    for sample in samples:
        started = time.perf_counter()
        fn(sample)
        times.append((time.perf_counter() - started) * 1000)
    return times


def cursor_at(column: str, value: str, page: int) -> str:
    """The "older" cursor that leads to `page` (what the page's own link would carry), untimed."""
    from panel.audit.query import encode
    from panel.models import AuditEvent

    ordered = AuditEvent.objects.filter(**{column: value}).order_by("-time", "-id")
    time_, pk = ordered.values_list("time", "id")[(page - 1) * 50 - 1]
    return encode(time_, pk)


def main() -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--reuse", action="store_true")
    add_write_flag(parser)
    args = parser.parse_args()
    kept = transcript()
    os.environ.setdefault("PANEL_DEBUG", "false")  # measured as served in production

    must_seed = open_database(args.events, args.reuse)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test import Client, RequestFactory

    from panel.audit.query import PAGE_SIZE, Filters
    from panel.audit.verify import verify
    from panel.audit.views import diff
    from panel.models import AuditEvent
    from panel.roles import assign_role, ensure_role_groups

    settings.ALLOWED_HOSTS = ["testserver"]
    if must_seed:
        started = time.perf_counter()
        figures = seed(args.events)
        total = time.perf_counter() - started
        print(
            f"seeded {args.events:,} chained events in {total:.1f}s "
            f"(generate+hash+COPY {figures['copy_s']:.1f}s, indexes+analyze {figures['index_s']:.1f}s)"
        )
    else:
        print(f"reusing {DB_NAME} ({AuditEvent.objects.count():,} events)")

    ensure_role_groups()
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    assign_role(user, "viewer")
    client = Client()
    client.force_login(user)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT site_slug, count(*) FROM panel_auditevent WHERE site_slug <> '' "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        site_counts = cursor.fetchall()
        cursor.execute(
            "SELECT actor_username, count(*) FROM panel_auditevent WHERE actor_user_id IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        actor_counts = cursor.fetchall()
    deep_rows = DEEP_PAGE * PAGE_SIZE
    rng = random.Random(SEED)
    sites_any = [s for s, _ in rng.sample(site_counts, min(REQUESTS, len(site_counts)))]
    actors_any = [a for a, _ in actor_counts][:REQUESTS]
    sites_deep = [s for s, c in site_counts if c > deep_rows]
    actors_deep = [a for a, c in actor_counts if c > deep_rows]
    print(
        f"{len(site_counts)} sites ({site_counts[0][1]:,} to {site_counts[-1][1]:,} events), "
        f"{len(actor_counts)} users ({actor_counts[0][1]:,} to {actor_counts[-1][1]:,}); "
        f"{len(sites_deep)} sites and {len(actors_deep)} users reach page {DEEP_PAGE}"
    )

    def cycle(values: list[str]) -> list[str]:
        return [values[i % len(values)] for i in range(REQUESTS)]

    scenarios: list[tuple[str, str, list[str], str]] = [
        ("site, first page", "site", sites_any, ""),
        ("actor, first page", "actor", actors_any, ""),
    ]
    if sites_deep:
        scenarios.append((f"site, page {DEEP_PAGE}", "site", cycle(sites_deep), "site_slug"))
    if actors_deep:
        scenarios.append((f"actor, page {DEEP_PAGE}", "actor", cycle(actors_deep), "actor_username"))
    client.get("/audit/")  # warm templates, session, permissions

    results = []
    for label, param, values, column in scenarios:
        cursors = {v: cursor_at(column, v, DEEP_PAGE) for v in set(values)} if column else {}

        def request(value: str, param: str = param, cursors: dict = cursors) -> None:
            query = {param: value, **({"before": cursors[value]} if cursors else {})}
            response = client.get("/audit/", query)
            if response.status_code != 200 or b'id="event-' not in response.content:
                raise CannotMeasure(f"/audit/ {query} answered {response.status_code} without events")

        times = timed(request, values)
        results.append((label, statistics.median(times), percentile(times, 95)))

    # The peer: Paginator (COUNT(*) + OFFSET) for the same deep pages, query + the same table.
    rf_request = RequestFactory().get("/audit/")
    rf_request.user = user
    peer = []
    for label, param, values, column in scenarios:
        if not column:
            continue

        def naive(value: str, param: str = param) -> None:
            filters = Filters.parse({param: value})
            events = filters.apply(AuditEvent.objects.all()).order_by("-time", "-id")
            page = Paginator(events, PAGE_SIZE).page(DEEP_PAGE)
            rows = [{"event": e, "changes": diff(e), "job": {}} for e in page.object_list]
            render_to_string(
                "audit/partials/event_table.html",
                {"filters": filters, "rows": rows, "page": None},
                request=rf_request,
            )

        times = timed(naive, values)
        peer.append((f"{label} (peer: Paginator OFFSET)", statistics.median(times), percentile(times, 95)))

    print(f"\n{'review page':<44}{'median ms':>10}{'p95 ms':>10}")
    for label, p50, p95 in results + peer:
        print(f"{label:<44}{p50:>10.1f}{p95:>10.1f}")
    deep = [r for r in results if str(DEEP_PAGE) in r[0]]
    for (label, _, p95), (_, _, peer_p95) in zip(deep, peer, strict=True):
        print(f"{label}: Paginator p95 / keyset p95 = {peer_p95 / p95:.1f}x")
    page_p95 = max(p95 for _, _, p95 in results)

    # Full CSV export through the view, memory sampled at every chunk.
    rows_total = AuditEvent.objects.count()
    rss_start = rss_mb()
    rss_peak = rss_start
    started = time.perf_counter()
    response = client.get("/audit/export.csv")
    newlines = size = chunks = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        newlines += chunk.count(b"\n")
        size += len(chunk)
        chunks += 1
        if chunks % 25 == 0:
            rss_peak = max(rss_peak, rss_mb())
    export_s = time.perf_counter() - started
    rss_peak = max(rss_peak, rss_mb())
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    exported = newlines - 1  # the header
    rows_per_s = exported / export_s
    print(
        f"\nCSV export: {exported:,} rows ({size / 2**20:.0f} MiB, {chunks} chunks) in {export_s:.1f}s = "
        f"{rows_per_s:,.0f} rows/s; RSS {rss_start:.0f} MiB before, {rss_peak:.0f} MiB peak during "
        f"(+{rss_peak - rss_start:.1f} MiB); process max RSS {max_rss:.0f} MiB"
    )
    if exported < rows_total:
        raise CannotMeasure(f"the export saw {exported:,} of {rows_total:,} rows")

    # The portable path (keyset chunks of 2,000 formatted in Python), for comparison.
    from panel.audit import export

    export.COPY_CSV = False
    rss_before_portable, portable_rows, started = rss_mb(), 0, time.perf_counter()
    rss_peak_portable = rss_before_portable
    for n, chunk in enumerate(client.get("/audit/export.csv").streaming_content):  # type: ignore[attr-defined]
        portable_rows += chunk.count(b"\n")
        if n % 25 == 0:
            rss_peak_portable = max(rss_peak_portable, rss_mb())
    portable_s = time.perf_counter() - started
    export.COPY_CSV = True
    portable_rows -= 1  # the header
    print(
        f"CSV export, portable path (keyset chunks in Python): {portable_rows:,} rows in "
        f"{portable_s:.1f}s = {portable_rows / portable_s:,.0f} rows/s; "
        f"RSS +{rss_peak_portable - rss_before_portable:.1f} MiB"
    )

    started = time.perf_counter()
    checked = verify()
    verify_s = time.perf_counter() - started
    print(
        f"audit verify: {'ok' if checked.ok else 'BROKEN: ' + '; '.join(checked.problems())}, "
        f"{checked.checked:,} events in {verify_s:.1f}s = {checked.checked / verify_s:,.0f} rows/s"
    )
    print(
        f"targets: page p95 < 150 ms ({'met' if page_p95 < 150 else 'MISSED'}), "
        f"export >= 50,000 rows/s ({'met' if rows_per_s >= 50_000 else 'MISSED'}), "
        f"memory flat (+{rss_peak - rss_start:.1f} MiB over {exported:,} rows)"
    )
    if not checked.ok:
        raise CannotMeasure("the seeded chain does not verify: the figures would be of a broken log")
    result = f"RESULT audit page_p95_ms={page_p95:.1f} export_rows_per_s={rows_per_s:.0f}"
    if args.write:
        write_section("audit", printed_section("audit", kept, result))
    return result


if __name__ == "__main__":
    run(main)
