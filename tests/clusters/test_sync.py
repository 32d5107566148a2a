"""Node sync against the real lab: every node shows; a worker engine killed shows as down within
30 s; brought back, it shows as ready again."""

import os
import signal
import time

import pytest
from django.urls import reverse

from clusters.models import Cluster, Node
from clusters.sync import sync_cluster
from lab import api, workers
from lab.config import WorkerNames

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def lab_cluster(lab) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster.objects.create(name="lab-test", endpoint=lab.manager_socket)


def wait_for_state(cluster: Cluster, hostname: str, state: str, deadline_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        sync_cluster(cluster)
        if Node.objects.filter(cluster=cluster, hostname=hostname, state=state).exists():
            return time.monotonic() - start
        time.sleep(2)
    seen = list(Node.objects.filter(cluster=cluster).values_list("hostname", "state"))
    raise AssertionError(f"{hostname} not {state} within {deadline_s}s; nodes: {seen}")


@pytest.mark.lab
def test_sync_shows_every_lab_node(lab, lab_cluster, personas):  # type: ignore[no-untyped-def]
    result = sync_cluster(lab_cluster)
    assert result.ok, result.message
    nodes = {n.hostname: n for n in Node.objects.filter(cluster=lab_cluster)}
    assert set(nodes) == {n.hostname for n in lab.nodes}
    manager = nodes[lab.manager.hostname]
    assert manager.role == "manager" and manager.state == "ready" and manager.engine_version
    for worker in lab.workers:
        node = nodes[worker.hostname]
        assert node.role == "worker" and node.address == worker.addr and node.labels
    lab_cluster.refresh_from_db()
    assert lab_cluster.status == "ok" and lab_cluster.last_sync
    page = personas.client("viewer").get(reverse("cluster-detail", args=[lab_cluster.pk])).content.decode()
    for worker in lab.workers:
        assert worker.hostname in page


@pytest.mark.serial  # a worker node's engine dies under every other test's tasks
@pytest.mark.lab
def test_killed_worker_shows_down_then_ready(lab, lab_cluster):  # type: ignore[no-untyped-def]
    victim = WorkerNames(len(lab.workers))
    sync_cluster(lab_cluster)
    pid = workers.pid(victim)
    assert pid, "the worker engine should be running"
    os.kill(pid, signal.SIGKILL)
    try:
        took = wait_for_state(lab_cluster, victim.hostname, "down", deadline_s=30)
        print(f"{victim.hostname} marked down {took:.1f}s after its engine was killed")
    finally:
        api.up(len(lab.workers))
    wait_for_state(lab_cluster, victim.hostname, "ready", deadline_s=60)


def test_sync_of_an_unreachable_cluster_says_why(db):  # type: ignore[no-untyped-def]
    cluster = Cluster.objects.create(name="gone", endpoint="unix:///run/nothing-here.sock")
    result = sync_cluster(cluster)
    cluster.refresh_from_db()
    assert (
        not result.ok
        and cluster.status == "unreachable"
        and "cannot reach the engine" in cluster.status_message
    )
