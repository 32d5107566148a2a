"""Gauges of what is true now: jobs by kind and state, the queue, sites, drift, nodes, clusters.

Zeros are listed for every known kind and state (and site status) of every cluster, so that a
series does not vanish when its count drops to zero (an alert on `panel_jobs{state="queued"} > 0`
must see it go back to 0, not disappear).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from clusters.models import Cluster, Node, Site
from jobs.models import Job, Kind, State


def cluster_statuses() -> dict[str, str]:
    """Every cluster's name and status (one query): the cluster label's values."""
    return dict(Cluster.objects.order_by().values_list("name", "status"))


def collect(clusters: dict[str, str]) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "panel_cluster_up", "Whether the panel's last sync reached the cluster's engine.", labels=["cluster"]
    )
    for name, status in sorted(clusters.items()):
        up.add_metric([name], 1.0 if status == Cluster.Status.OK else 0.0)
    yield up
    yield from jobs(clusters)
    yield from queue()
    yield from sites(clusters)
    yield from nodes(clusters)


def jobs(clusters: dict[str, str]) -> Iterator[Metric]:
    """Jobs by kind, state and cluster (an index-less GROUP BY: the job table stays small, a few
    rows per site and day). Jobs of no cluster (a deleted one) carry cluster=""."""
    counts = {
        (row["kind"], row["state"], row["cluster__name"] or ""): row["n"]
        for row in Job.objects.order_by().values("kind", "state", "cluster__name").annotate(n=Count("id"))
    }
    family = GaugeMetricFamily(
        "panel_jobs", "Jobs in the database, by kind, state and cluster.", labels=["kind", "state", "cluster"]
    )
    names = set(clusters) | {cluster for _, _, cluster in counts}
    for cluster in sorted(names):
        for kind in Kind.values:
            for job_state in State.values:
                family.add_metric([kind, job_state, cluster], counts.pop((kind, job_state, cluster), 0))
    for (kind, job_state, cluster), n in sorted(counts.items()):  # a kind no longer known
        family.add_metric([kind, job_state, cluster], n)
    yield family


def queue() -> Iterator[Metric]:
    """Jobs waiting for a worker, and how long the oldest has waited (0 when none waits)."""
    found = Job.objects.filter(state=State.QUEUED).aggregate(n=Count("id"), oldest=Min("created_at"))
    depth = GaugeMetricFamily("panel_job_queue_depth", "Jobs queued, not yet picked up by a worker.")
    depth.add_metric([], found["n"])
    yield depth
    age = GaugeMetricFamily(
        "panel_job_queue_oldest_age_seconds", "How long the oldest queued job has waited (0: none waits)."
    )
    oldest = found["oldest"]
    age.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
    yield age


def sites(clusters: dict[str, str]) -> Iterator[Metric]:
    """Sites by status, and those whose running services differ from their rendered spec (the
    drift check's last finding, stored on the site), in one query."""
    rows = (
        Site.objects.order_by()
        .values("cluster__name", "status")
        .annotate(n=Count("id"), drifted=Count("id", filter=~Q(drift=[])))
    )
    by_status: dict[tuple[str, str], int] = {}
    drifted: dict[str, int] = dict.fromkeys(clusters, 0)
    for row in rows:
        by_status[(row["cluster__name"], row["status"])] = row["n"]
        drifted[row["cluster__name"]] = drifted.get(row["cluster__name"], 0) + row["drifted"]
    family = GaugeMetricFamily("panel_sites", "Sites by cluster and status.", labels=["cluster", "status"])
    for cluster in sorted(drifted):
        for status in Site.Status.values:
            family.add_metric([cluster, status], by_status.get((cluster, status), 0))
    yield family
    drift = GaugeMetricFamily(
        "panel_sites_drifted",
        "Sites whose live services differ from their rendered spec.",
        labels=["cluster"],
    )
    for cluster, n in sorted(drifted.items()):
        drift.add_metric([cluster], n)
    yield drift


def nodes(clusters: dict[str, str]) -> Iterator[Metric]:
    """Swarm nodes as the last sync saw them; ready means state ready and availability active."""
    rows = (
        Node.objects.order_by()
        .values("cluster__name")
        .annotate(total=Count("id"), ready=Count("id", filter=Q(state="ready", availability="active")))
    )
    counts = {name: (0, 0) for name in clusters} | {
        r["cluster__name"]: (r["total"], r["ready"]) for r in rows
    }
    total = GaugeMetricFamily("panel_nodes", "Swarm nodes, by cluster.", labels=["cluster"])
    ready = GaugeMetricFamily(
        "panel_nodes_ready", "Swarm nodes ready and active, by cluster.", labels=["cluster"]
    )
    for name, (all_nodes, ready_nodes) in sorted(counts.items()):
        total.add_metric([name], all_nodes)
        ready.add_metric([name], ready_nodes)
    yield total
    yield ready
