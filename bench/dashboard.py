"""The pages that grow with the fleet, at 10, 500 and 5,000 sites: do they stay flat?

The question is not "is the page faster than a naive page" but "does the same page cost the same
with a hundred times more sites". One PostgreSQL database (panel_bench_dashboard) grows in three
steps, and at each step every list page is measured through Django's full stack (test Client:
middleware, session, auth, templates; DEBUG off, as served in production), logged in as a viewer:

    sites    clusters (5 nodes each)   domains   jobs      manifest changes
       10          50                      30        20            2
      500          50                   1,500     1,000          100
    5,000         500                  15,000    10,000        1,000

Pages: the dashboard (full page, and its 15-second live refresh), the site list, the cluster
list, the domain list, the job list and the change list (each the first page of 25, as opened).
For each page and size: median and p95 over --requests requests, and the number of queries
(django.test.utils.CaptureQueriesContext, the query list django-debug-toolbar shows).
Targets: p95 < 100 ms and <= 15 queries at 5,000 sites, and flat in N (the same query count at
every size). With --explain, the queries of each page at 5,000 sites are printed.

    python bench/dashboard.py [--requests 50] [--explain] [--write]

The last line: `RESULT dashboard p95_ms=... queries=... p95_ms_5000=... queries_5000=...`, the
worst page's p95 and query count at 500 sites, then at 5,000. Exit 0 whether or not a target is
met; exit 1 and no RESULT line when it cannot measure (no PostgreSQL, a page that does not answer
200).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import fresh_database, viewer_client  # noqa: E402
from bench._report import (  # noqa: E402
    add_write_flag,
    argument_parser,
    command_line,
    load,
    met,
    percentile,
    stamp,
    timed_ms,
    write_section,
)
from bench._run import CannotMeasure, run  # noqa: E402

SIZES = ((10, 50), (500, 50), (5000, 500))  # (sites, clusters)
NODES, DOMAINS, JOBS_PER_SITE, SITES_PER_CHANGE = 5, 3, 2, 5
LIVE = {"HX-Request": "true", "HX-Target": "dashboard-live"}
PAGES: list[tuple[str, str, dict[str, str]]] = [
    ("dashboard", "dashboard", {}),
    ("dashboard (live refresh)", "dashboard", LIVE),
    ("site list", "site-list", {}),
    ("cluster list", "cluster-list", {}),
    ("domain list", "domain-list", {}),
    ("job list", "job-list", {}),
    ("change list", "change-list", {}),
]
MAX_P95_MS, MAX_QUERIES = 100.0, 15
warnings.filterwarnings("ignore", message="No directory at")

Figures = dict[tuple[str, int], dict[str, Any]]  # (page, sites) -> p50, p95, queries, sql
Verdict = tuple[str, list[dict[str, Any]], bool, bool]  # page, its figures by size, flat, target met


def grow_clusters(clusters: int) -> None:
    """Add clusters of NODES nodes (the last one down) up to `clusters`."""
    from clusters.models import Cluster, Node

    have_clusters = Cluster.objects.count()
    new_clusters = Cluster.objects.bulk_create(
        Cluster(name=f"cluster-{c:03d}", endpoint=f"ssh://ops@manager{c}.example.com", status="ok")
        for c in range(have_clusters, clusters)
    )
    Node.objects.bulk_create(
        Node(
            cluster=c,
            node_id=f"{c.pk}-{n}",
            hostname=f"{c.name}-n{n}",
            role="manager" if n == 0 else "worker",
            availability="active",
            state="ready" if n != NODES - 1 else "down",
            address=f"10.{c.pk // 250}.{c.pk % 250}.{n}",
        )
        for c in new_clusters
        for n in range(NODES)
    )


def grow_sites(sites: int) -> list[Any]:
    """Add sites up to `sites`, spread over every cluster, each with its domains; the new sites."""
    from clusters.models import Cluster, Domain, Site

    all_clusters = list(Cluster.objects.order_by("pk"))
    have_sites = Site.objects.count()
    new_sites = Site.objects.bulk_create(
        Site(
            cluster=all_clusters[i % len(all_clusters)],
            slug=f"site-{i:04d}",
            name=f"Customer {i}",
            image="registry.example.com/odoo:17.0",
            db_name=f"db{i}",
            db_node=f"{all_clusters[i % len(all_clusters)].name}-n0",
            nfs_server="nfs.example.com",
            nfs_export=f"/srv/fs/{i}",
            replicas=2,
            running_replicas=2,
            status="healthy" if i % 10 else "degraded",
        )
        for i in range(have_sites, sites)
    )
    Domain.objects.bulk_create(
        Domain(site=s, name=f"{prefix}.{s.slug}.example.com")
        for s in new_sites
        for prefix in ("www", "shop", "erp")[:DOMAINS]
    )
    return new_sites


def add_history(new_sites: list[Any]) -> None:
    """JOBS_PER_SITE jobs for each new site, and a manifest change for one in SITES_PER_CHANGE."""
    from django.utils import timezone

    from clusters.approvals.models import ManifestChange
    from jobs.models import Job

    now = timezone.now()
    kinds, states = ("deploy", "module_update", "backup", "scale"), ("succeeded", "succeeded", "failed")
    Job.objects.bulk_create(
        Job(
            kind=kinds[(i + j) % len(kinds)],
            site=s,
            site_slug=s.slug,
            cluster_id=s.cluster_id,
            state=states[(i + j) % len(states)],
            created_by_name="ops",
            created_at=now - datetime.timedelta(minutes=i * JOBS_PER_SITE + j),
            finished_at=now - datetime.timedelta(minutes=i * JOBS_PER_SITE + j - 1),
            error="" if (i + j) % 3 != 2 else "odoo -u exited 1",
        )
        for i, s in enumerate(new_sites)
        for j in range(JOBS_PER_SITE)
    )
    ManifestChange.objects.bulk_create(
        ManifestChange(
            site=s,
            state="pending" if i % 2 else "approved",
            title=f"branch feature-{i}",
            source="api",
            source_name=f"{s.slug}-addons.tar.gz",
            series="17.0",
            passes=True,
            addons_count=12,
            verdict={"ok": True, "addons": {}},
            submitted_by_name="ci",
            created_at=now - datetime.timedelta(minutes=i),
        )
        for i, s in enumerate(new_sites)
        if i % SITES_PER_CHANGE == 0
    )


def grow(sites: int, clusters: int) -> None:
    """Add clusters, nodes, sites, domains, jobs and changes up to the given size."""
    from django.db import connection

    grow_clusters(clusters)
    add_history(grow_sites(sites))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by then: plans as in production


def measure(client: Any, url: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get(_: int) -> None:
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise CannotMeasure(f"{url} answered {response.status_code}")

    client.get(url, headers=headers)  # warm caches (templates, permissions)
    times = timed_ms(get, range(requests))
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, headers=headers)
    return {
        "p50": statistics.median(times),
        "p95": percentile(times, 95),
        "queries": len(ctx.captured_queries),
        "sql": [q["sql"] for q in ctx.captured_queries],
    }


def parse_args() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--explain", action="store_true", help="print each page's queries at the largest size"
    )
    add_write_flag(parser)
    return parser.parse_args()


def measure_sizes(client: Any, requests: int) -> tuple[Figures, dict[int, str]]:
    """Grow to each size in turn and measure every page there; the figures, and the load at each."""
    from django.urls import reverse

    figures: Figures = {}
    loads = {}
    for sites, clusters in SIZES:
        started = time.perf_counter()
        grow(sites, clusters)
        print(
            f"\n== {sites:,} sites, {clusters} clusters (seeded in {time.perf_counter() - started:.1f} s; "
            f"{load()})",
            flush=True,
        )
        for label, name, headers in PAGES:
            figures[(label, sites)] = got = measure(client, reverse(name), headers, requests)
            print(
                f"  {label:<26} p50 {got['p50']:6.1f} ms  p95 {got['p95']:6.1f} ms"
                f"  {got['queries']:3} queries"
            )
        loads[sites] = load()
    return figures, loads


def page_verdicts(figures: Figures, explain: bool) -> list[Verdict]:
    """Print the p95 and query count of every page at every size, and whether each page holds."""
    sizes = [s for s, _ in SIZES]
    head = f"{'page':<26}" + "".join(f"{f'p95 ms @{s}':>14}{'q':>4}" for s in sizes) + "  flat"
    print("\n" + head)
    found = []
    for label, _, _ in PAGES:
        row = [figures[(label, s)] for s in sizes]
        flat = len({r["queries"] for r in row}) == 1
        big = row[-1]
        ok = flat and big["p95"] < MAX_P95_MS and big["queries"] <= MAX_QUERIES
        found.append((label, row, flat, ok))
        cells = "".join(f"{r['p95']:>14.1f}{r['queries']:>4}" for r in row)
        print(f"{label:<26}{cells}  {'yes' if flat else 'NO'}{'' if ok else '  (target missed)'}")
    if explain:
        for label, _, _ in PAGES:
            print(f"\n-- {label} at {sizes[-1]:,} sites")
            for sql in figures[(label, sizes[-1])]["sql"]:
                print(f"   {sql[:300]}")
    return found


def worst(figures: Figures, sites: int) -> tuple[float, int]:
    """The worst p95 and the most queries of any page at `sites` sites."""
    return (
        max(figures[(label, sites)]["p95"] for label, _, _ in PAGES),
        max(figures[(label, sites)]["queries"] for label, _, _ in PAGES),
    )


def main() -> str:
    args = parse_args()
    os.environ.setdefault("PANEL_DEBUG", "false")  # measured as served in production
    fresh_database("panel_bench_dashboard")
    from django.conf import settings

    # Not setup_test_environment(): its instrumented template rendering would be measured too.
    settings.ALLOWED_HOSTS = ["testserver"]
    _, client = viewer_client("bench", password="bench-password-123")
    figures, loads = measure_sizes(client, args.requests)
    found = page_verdicts(figures, args.explain)
    p95_500, q_500 = worst(figures, 500)
    p95_5000, q_5000 = worst(figures, 5000)
    all_met = all(ok for *_, ok in found)
    print(
        f"\ntargets at 5,000 sites: every page p95 < {MAX_P95_MS:.0f} ms ({p95_5000:.1f}), "
        f"<= {MAX_QUERIES} queries ({q_5000}), query count flat in N: {met(all_met)}"
    )
    result = (
        f"RESULT dashboard p95_ms={p95_500:.1f} queries={q_500} "
        f"p95_ms_5000={p95_5000:.1f} queries_5000={q_5000}"
    )
    if args.write:
        write_section("dashboard", section(args, figures, found, loads, all_met, result))
    return result


def section(
    args: argparse.Namespace,
    figures: Figures,
    verdicts: list[Verdict],
    loads: dict[int, str],
    all_met: bool,
    result: str,
) -> str:
    sizes = [s for s, _ in SIZES]
    lines = [
        "## dashboard",
        "",
        f"`{command_line()}` ({stamp()}). The same pages at 10, 500 and 5,000 sites (50, 50 and 500",
        f"clusters of {NODES} nodes; {DOMAINS} domains and {JOBS_PER_SITE} jobs per site, a manifest",
        f"change per {SITES_PER_CHANGE} sites) in one PostgreSQL database grown in three steps;",
        f"{args.requests} requests",
        "per page and size through Django's full stack (test Client, DEBUG off, a viewer logged in);",
        "queries counted with `CaptureQueriesContext`. Load while measuring: "
        + "; ".join(f"{s:,} sites: {loads[s]}" for s in sizes)
        + ".",
        "",
        "| page | " + " | ".join(f"{s:,} sites: p50 / p95 ms (queries)" for s in sizes) + " | queries flat |",
        "|---|" + "---:|" * len(sizes) + "---|",
    ]
    for label, row, flat, _ in verdicts:
        cells = " | ".join(f"{r['p50']:.1f} / {r['p95']:.1f} ({r['queries']})" for r in row)
        lines.append(f"| {label} | {cells} | {'yes' if flat else 'no'} |")
    lines += [
        "",
        f"Targets at 5,000 sites: p95 < {MAX_P95_MS:.0f} ms and <= {MAX_QUERIES} queries on every page, "
        f"the same query count at every size: {met(all_met)}. The machine is shared "
        "(2 CPUs, other suites running): a p95 far above its p50 is the load, not the page. The job "
        "and change lists render a site filter of up to 500 slugs, so they grow from 10 to 500 sites "
        "and no further. The cluster counts (dashboard, cluster list) are correlated counts per "
        "cluster: counted through joins, they multiplied each cluster's nodes by its sites before "
        "the page's LIMIT (53 ms of SQL at 5,000 sites, 5 ms now).",
        "",
        f"    {result}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    run(main)
