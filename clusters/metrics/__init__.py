"""The panel's figures kept in the database, computed when Prometheus scrapes (README "Metrics").

Everything here is read with a few aggregate queries (COUNT ... GROUP BY) at scrape time instead of
being counted by the processes that change it: a job is claimed by a worker, reaped by beat and
cancelled from a web process, and only the database sees all of them, so the figures are right
whichever process serves /metrics and survive restarts. Here, not in panel/, because the layers
(pyproject.toml) let only clusters and above import both the site and the job models.

Labels are bounded: kind, state, status, cluster name, and the site slug for one gauge only (the
last module update's downtime: one series per site, bounded by the number of sites). Never a job id.
"""

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from clusters.metrics import history, state


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        clusters = state.cluster_statuses()
        yield from state.collect(clusters)
        yield from history.collect()


def register() -> None:
    """Called from ClustersConfig.ready: /metrics then serves these figures."""
    from panel.metrics.registry import register as add

    add("database", DatabaseCollector())
