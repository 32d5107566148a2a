"""Dashboard and site list under a realistic fleet: 50 clusters x 5 nodes, 500 sites, 1,500 domains.

Measures each page through Django's full stack (middleware, auth, templates) on PostgreSQL:
median and p95 over 50 requests, and the number of queries. The peer, in the same run, is the
same page rendered naively (no select_related / prefetch / annotate: what a first version would
do), to show what the query shaping buys.

    python bench/dashboard.py            # RESULT dashboard p95_ms=... queries=...
"""

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import fresh_database, percentile  # noqa: E402

REQUESTS = 50
warnings.filterwarnings("ignore", message="No directory at")


def seed() -> None:
    from clusters.models import Cluster, Domain, Node, Site

    clusters = Cluster.objects.bulk_create(
        Cluster(name=f"cluster-{c:02d}", endpoint=f"ssh://ops@manager{c}.example.com", status="ok")
        for c in range(50)
    )
    Node.objects.bulk_create(
        Node(
            cluster=c,
            node_id=f"{c.pk}-{n}",
            hostname=f"{c.name}-n{n}",
            role="manager" if n == 0 else "worker",
            availability="active",
            state="ready" if n != 4 else "down",
            address=f"10.0.{c.pk}.{n}",
        )
        for c in clusters
        for n in range(5)
    )
    sites = Site.objects.bulk_create(
        Site(
            cluster=clusters[i % 50],
            slug=f"site-{i:03d}",
            name=f"Customer {i}",
            image="registry.example.com/odoo:17.0",
            db_name=f"db{i}",
            db_node=f"{clusters[i % 50].name}-n0",
            nfs_server="nfs.example.com",
            nfs_export=f"/srv/fs/{i}",
            replicas=2,
            running_replicas=2,
            status="healthy" if i % 10 else "degraded",
        )
        for i in range(500)
    )
    Domain.objects.bulk_create(
        Domain(site=s, name=f"{prefix}.site-{i:03d}.example.com")
        for i, s in enumerate(sites)
        for prefix in ("www", "shop", "erp")
    )


def naive_dashboard(request):  # type: ignore[no-untyped-def]
    """The peer: the same page without query shaping (N+1 on clusters, nodes, domains)."""
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string

    from clusters.models import Cluster, Site

    clusters = list(Cluster.objects.all()[:50])
    for c in clusters:
        c.node_count = c.nodes.count()  # type: ignore[attr-defined]
        c.ready_count = c.nodes.filter(state="ready").count()  # type: ignore[attr-defined]
        c.site_count = c.sites.count()  # type: ignore[attr-defined]
    page = Paginator(Site.objects.all(), 25).get_page(1)
    html = render_to_string(
        "dashboard.html",
        {
            "clusters": clusters,
            "page": page,
            "site_states": {},
            "sites_total": Site.objects.count(),
            "nodes_total": 0,
            "nodes_ready": 0,
            "health": {},
        },
        request=request,
    )
    from django.http import HttpResponse

    return HttpResponse(html)


def measure(client, url: str) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches (templates, permissions)
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return times, len(ctx.captured_queries)


def main() -> None:
    os.environ.setdefault("PANEL_DEBUG", "false")  # measured as served in production
    fresh_database("panel_bench_dashboard")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, RequestFactory
    from django.urls import reverse

    from panel.roles import assign_role

    # Not setup_test_environment(): its instrumented template rendering would be measured too.
    settings.ALLOWED_HOSTS = ["testserver"]
    started = time.perf_counter()
    seed()
    print(f"seeded 50 clusters, 250 nodes, 500 sites, 1500 domains in {time.perf_counter() - started:.1f}s")
    user = get_user_model().objects.create_user("bench", password="bench-password-123")
    assign_role(user, "viewer")
    client = Client()
    client.force_login(user)

    rows = []
    worst_p95, worst_queries = 0.0, 0
    for name in ("dashboard", "site-list"):
        times, queries = measure(client, reverse(name))
        p50, p95 = statistics.median(times), percentile(times, 95)
        worst_p95, worst_queries = max(worst_p95, p95), max(worst_queries, queries)
        rows.append((name, p50, p95, queries))

    # The peer: the naive dashboard, in this same process and database.
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    request = RequestFactory().get("/")
    request.user = user
    naive_dashboard(request)
    naive_times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        naive_dashboard(request)
        naive_times.append((time.perf_counter() - start) * 1000)
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        naive_dashboard(request)
    naive_p95 = percentile(naive_times, 95)
    rows.append(
        ("naive dashboard (peer)", statistics.median(naive_times), naive_p95, len(ctx.captured_queries))
    )

    print(f"{'page':<26}{'median ms':>10}{'p95 ms':>10}{'queries':>9}")
    for name, p50, p95, queries in rows:
        print(f"{name:<26}{p50:>10.1f}{p95:>10.1f}{queries:>9}")
    dashboard_p95 = rows[0][2]
    print(
        f"dashboard p95 / naive p95 = {dashboard_p95 / naive_p95:.2f}  (target: p95 < 100 ms, <= 15 queries)"
    )
    print(f"RESULT dashboard p95_ms={worst_p95:.1f} queries={worst_queries}")


if __name__ == "__main__":
    main()
