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
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import viewer_client  # noqa: E402
from bench._report import (  # noqa: E402
    add_write_flag,
    percentile,
    printed_section,
    timed_ms,
    transcript,
    write_section,
)
from bench._run import CannotMeasure, run  # noqa: E402
from bench.audit_export import export_csv, export_csv_portable, verify_chain  # noqa: E402
from bench.audit_seed import DB_NAME, SEED, open_database, seed  # noqa: E402

EVENTS = 1_000_000
REQUESTS = 50
DEEP_PAGE = 200
warnings.filterwarnings("ignore", message="No directory at")

Scenario = tuple[str, str, list[str], str]  # label, query parameter, values, column (deep pages only)
Figure = tuple[str, float, float]  # label, median ms, p95 ms


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--reuse", action="store_true")
    add_write_flag(parser)
    return parser.parse_args()


def seed_or_reuse(must_seed: bool, events: int) -> None:
    from panel.models import AuditEvent

    if must_seed:
        started = time.perf_counter()
        figures = seed(events)
        total = time.perf_counter() - started
        print(
            f"seeded {events:,} chained events in {total:.1f}s "
            f"(generate+hash+COPY {figures['copy_s']:.1f}s, indexes+analyze {figures['index_s']:.1f}s)"
        )
    else:
        print(f"reusing {DB_NAME} ({AuditEvent.objects.count():,} events)")


def cursor_at(column: str, value: str, page: int) -> str:
    """The "older" cursor that leads to `page` (what the page's own link would carry), untimed."""
    from panel.audit.query import encode
    from panel.models import AuditEvent

    ordered = AuditEvent.objects.filter(**{column: value}).order_by("-time", "-id")
    time_, pk = ordered.values_list("time", "id")[(page - 1) * 50 - 1]
    return encode(time_, pk)


def scenarios() -> list[Scenario]:
    """First pages on a different site or actor each request; the deep page on those that reach it."""
    from django.db import connection

    from panel.audit.query import PAGE_SIZE

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

    found: list[Scenario] = [
        ("site, first page", "site", sites_any, ""),
        ("actor, first page", "actor", actors_any, ""),
    ]
    if sites_deep:
        found.append((f"site, page {DEEP_PAGE}", "site", cycle(sites_deep), "site_slug"))
    if actors_deep:
        found.append((f"actor, page {DEEP_PAGE}", "actor", cycle(actors_deep), "actor_username"))
    return found


def review_pages(client: Any, scenarios: list[Scenario]) -> list[Figure]:
    """Each scenario through the whole stack; a deep page with the cursor its link would carry."""
    results = []
    for label, param, values, column in scenarios:
        cursors = {v: cursor_at(column, v, DEEP_PAGE) for v in set(values)} if column else {}

        def request(value: str, param: str = param, cursors: dict = cursors) -> None:
            query = {param: value, **({"before": cursors[value]} if cursors else {})}
            response = client.get("/audit/", query)
            if response.status_code != 200 or b'id="event-' not in response.content:
                raise CannotMeasure(f"/audit/ {query} answered {response.status_code} without events")

        times = timed_ms(request, values)
        results.append((label, statistics.median(times), percentile(times, 95)))
    return results


def paginator_pages(user: Any, scenarios: list[Scenario]) -> list[Figure]:
    """The peer: Paginator (COUNT(*) + OFFSET) for the same deep pages, query + the same table."""
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from panel.audit.query import PAGE_SIZE, Filters
    from panel.audit.views import diff
    from panel.models import AuditEvent

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

        times = timed_ms(naive, values)
        peer.append((f"{label} (peer: Paginator OFFSET)", statistics.median(times), percentile(times, 95)))
    return peer


def print_pages(results: list[Figure], peer: list[Figure]) -> float:
    """The table of review pages and the peer's; the worst p95 of the review pages."""
    print(f"\n{'review page':<44}{'median ms':>10}{'p95 ms':>10}")
    for label, p50, p95 in results + peer:
        print(f"{label:<44}{p50:>10.1f}{p95:>10.1f}")
    deep = [r for r in results if str(DEEP_PAGE) in r[0]]
    for (label, _, p95), (_, _, peer_p95) in zip(deep, peer, strict=True):
        print(f"{label}: Paginator p95 / keyset p95 = {peer_p95 / p95:.1f}x")
    return max(p95 for _, _, p95 in results)


def main() -> str:
    args = parse_args()
    kept = transcript()
    os.environ.setdefault("PANEL_DEBUG", "false")  # measured as served in production
    must_seed = open_database(args.events, args.reuse)
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]
    seed_or_reuse(must_seed, args.events)
    user, client = viewer_client()
    found = scenarios()
    client.get("/audit/")  # warm templates, session, permissions
    page_p95 = print_pages(review_pages(client, found), paginator_pages(user, found))
    export = export_csv(client)
    export_csv_portable(client)
    ok = verify_chain()
    print(
        f"targets: page p95 < 150 ms ({'met' if page_p95 < 150 else 'MISSED'}), "
        f"export >= 50,000 rows/s ({'met' if export.rows_per_s >= 50_000 else 'MISSED'}), "
        f"memory flat (+{export.rss_growth_mb:.1f} MiB over {export.rows:,} rows)"
    )
    if not ok:
        raise CannotMeasure("the seeded chain does not verify: the figures would be of a broken log")
    result = f"RESULT audit page_p95_ms={page_p95:.1f} export_rows_per_s={export.rows_per_s:.0f}"
    if args.write:
        write_section("audit", printed_section("audit", kept, result))
    return result


if __name__ == "__main__":
    run(main)
