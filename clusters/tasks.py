"""Beat tasks of clusters: node and status sync, and drift of the deployed sites, each fanned out
one task per cluster so that one unreachable cluster (15 s timeout) never delays the others; and the
hourly tick of scheduled backups and restore drills (which only starts jobs)."""

from collections.abc import Callable

from celery import shared_task

from clusters.models import Cluster
from clusters.sites.backups.schedule import backups_due, drills_due
from clusters.sites.inspection import check_cluster_drift
from clusters.sync import sync_cluster


def _fan_out(task) -> None:  # type: ignore[no-untyped-def]
    for pk in Cluster.objects.values_list("pk", flat=True):
        task.delay(pk)


def _on_cluster(pk: int, work: Callable[[Cluster], object]) -> None:
    cluster = Cluster.objects.filter(pk=pk).first()
    if cluster is not None:  # deleted since the fan-out
        work(cluster)


@shared_task(name="clusters.tasks.sync_all", ignore_result=True)
def sync_all() -> None:
    _fan_out(sync_one)


@shared_task(name="clusters.tasks.sync_one", ignore_result=True, soft_time_limit=60, time_limit=90)
def sync_one(pk: int) -> None:
    _on_cluster(pk, sync_cluster)


@shared_task(name="clusters.tasks.drift_all", ignore_result=True)
def drift_all() -> None:
    _fan_out(drift_one)


@shared_task(name="clusters.tasks.drift_one", ignore_result=True, soft_time_limit=240, time_limit=270)
def drift_one(pk: int) -> None:
    _on_cluster(pk, check_cluster_drift)


@shared_task(name="clusters.tasks.backups_tick", ignore_result=True, soft_time_limit=120, time_limit=150)
def backups_tick() -> None:
    """Hourly: the scheduled backups and restore drills that are due (clusters/sites/backups/schedule.py)."""
    backups_due()
    drills_due()
