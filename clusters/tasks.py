"""Beat tasks of clusters: node and status sync, fanned out one task per cluster so that one
unreachable cluster (15 s timeout) never delays the others."""

from celery import shared_task

from clusters.models import Cluster
from clusters.sync import sync_cluster


@shared_task(name="clusters.tasks.sync_all", ignore_result=True)
def sync_all() -> None:
    for pk in Cluster.objects.values_list("pk", flat=True):
        sync_one.delay(pk)


@shared_task(name="clusters.tasks.sync_one", ignore_result=True, soft_time_limit=60, time_limit=90)
def sync_one(pk: int) -> None:
    cluster = Cluster.objects.filter(pk=pk).first()
    if cluster is not None:
        sync_cluster(cluster)
