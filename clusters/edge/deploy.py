"""Deploying the edge: its overlay, its Traefik service, then Traefik's own answer read back.

A deploy is a job (`edge_deploy`, on the cluster) like a site's, so it has a log, steps and an audit
row; `lab up` calls `deploy_edge` directly for the lab's edge. A spec the service already is changes
nothing (swarm_ops.apply_service): redeploying the edge does not drop a connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
from django.utils import timezone

from clusters import swarm_ops as ops
from clusters import swarm_secrets
from clusters.edge import fallbacks
from clusters.edge.render import TLS_SECRET_LABELS, edge_network, edge_service, tls_files, tls_secret_name
from clusters.edge.status import EdgeStatus, EdgeUnreachable, read_status
from clusters.job_client import job_client
from clusters.models import Edge
from jobs.runner import JobFailed, JobRunner, register

CONVERGE_S = 180.0
ANSWER_S = 60.0


def _quiet(_: str) -> None:
    pass


def wait_answering(edge: Edge, deadline_s: float = ANSWER_S) -> EdgeStatus:
    """Traefik's API, polled until it answers (its task runs before its listeners are up)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            return record(edge, read_status(edge.api_url))
        except EdgeUnreachable as exc:
            if time.monotonic() > end:
                record_down(edge, str(exc))
                raise
        time.sleep(0.5)


def record(edge: Edge, status: EdgeStatus) -> EdgeStatus:
    Edge.objects.filter(pk=edge.pk).update(
        status=Edge.Status.UP, status_message="", version=status.version, checked_at=timezone.now()
    )
    return status


def record_down(edge: Edge, message: str) -> None:
    Edge.objects.filter(pk=edge.pk).update(
        status=Edge.Status.DOWN, status_message=message, checked_at=timezone.now()
    )


def ensure_tls_secrets(
    client: docker.DockerClient, edge: Edge, log: Callable[[str], object]
) -> dict[str, str]:
    """The Swarm secrets of the edge's default certificate, made when missing: name -> id."""
    contents = {tls_secret_name(filename, content): content for filename, content in tls_files(edge).items()}
    return swarm_secrets.ensure(client, contents, TLS_SECRET_LABELS, log)


def prune_tls_secrets(client: docker.DockerClient, keep: set[str]) -> None:
    """Earlier certificates' secrets, once the service no longer uses them (one still in use by a
    task that has not stopped yet is refused by the engine: it goes on a later deploy)."""
    swarm_secrets.prune(client, TLS_SECRET_LABELS, keep)


def apply_edge(
    client: docker.DockerClient,
    edge: Edge,
    log: Callable[[str], object] = _quiet,
    stop: Callable[[], object] | None = None,
) -> str:
    """The overlay and the Traefik service as rendered; waits for the task when anything changed."""
    if ops.ensure_network(client, edge_network(edge)):
        log(f"network {edge.network} created")
    secret_ids = ensure_tls_secrets(client, edge, log)
    spec = edge_service(edge, secret_ids)
    since = timezone.now()
    outcome = ops.apply_service(client, spec, log)
    log(f"{spec.name}: {outcome}")
    if outcome != "unchanged":
        ops.wait_converged(client, spec.name, since=since, deadline_s=CONVERGE_S, log=log, stop=stop)
    prune_tls_secrets(client, keep=set(secret_ids))
    log(f"maintenance page: {fallbacks.refresh(client, edge.cluster, log)}")
    return outcome


def deploy_edge(client: docker.DockerClient, edge: Edge, log: Callable[[str], object] = _quiet) -> EdgeStatus:
    apply_edge(client, edge, log)
    status = wait_answering(edge)
    log(f"Traefik {status.version} answers at {edge.api_url}: {len(status.routers)} routers")
    return status


@register
class EdgeDeployRunner(JobRunner):
    kind = "edge_deploy"
    plan = ["Deploy Traefik", "Read its routers"]

    def run(self) -> dict[str, Any]:
        edge = Edge.objects.select_related("cluster").get(cluster=self.cluster)
        with job_client(self) as client:
            with self.step("Deploy Traefik"):
                apply_edge(client, edge, self.log, stop=self.check_cancelled)
            with self.step("Read its routers"):
                try:
                    status = wait_answering(edge)
                except EdgeUnreachable as exc:
                    raise JobFailed(str(exc)) from exc
                self.log(f"Traefik {status.version} answers: {len(status.routers)} routers")
        return status.as_json()
