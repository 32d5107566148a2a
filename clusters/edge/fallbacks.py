"""Keeping the edge's maintenance service in step with the sites behind it (clusters/edge/maintenance.py
says what it is). Called when the edge is deployed, when a site is deployed or its domains change, and
when a module update takes a site down and brings it back (the page says what is happening). A
cluster without an edge has nothing to keep: every call is then a no-op."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import docker

from clusters import swarm_ops as ops
from clusters.edge.maintenance import SERVICE_NAME, Fallback, fallback_groups, maintenance_service
from clusters.edge.status import EdgeUnreachable, read_status
from clusters.models import Cluster, Edge, Site
from clusters.stack import service_name

REASONS = {
    Site.Status.UPDATING: "Its modules are being updated; it is back in a few minutes.",
    Site.Status.DEPLOYING: "It is being deployed.",
    Site.Status.NEW: "It is being deployed.",
}
DEFAULT_REASON = "It is starting or under maintenance."
ROUTED_SLACK_S = 10.0
Log = Callable[[str], object]
REFRESH_TRIES = 5


def _quiet(_: str) -> None:
    pass


def fallbacks(edge: Edge) -> list[Fallback]:
    sites = Site.objects.filter(cluster=edge.cluster, traefik_network=edge.network).prefetch_related(
        "domains"
    )
    return [
        Fallback(
            slug=site.slug,
            name=site.name or site.slug,
            domains=tuple(sorted(d.name for d in site.domains.all())),
            entrypoint=site.traefik_entrypoint,
            reason=REASONS.get(site.status, DEFAULT_REASON),  # type: ignore[call-overload]
        )
        for site in sites
    ]


def refresh(client: docker.DockerClient, cluster: Cluster, log: Log = _quiet) -> str | None:
    """Apply the maintenance service for the cluster's edge as the sites are now; None without an
    edge. Two writers at once (two jobs, two panels) make Swarm refuse the later update ("update out
    of sequence"): it is read again and applied again. A page that still cannot be written is said in
    the log and does not fail the job: the site itself is not at stake."""
    edge = Edge.of(cluster)
    if edge is None:
        return None
    for attempt in range(1, REFRESH_TRIES + 1):
        try:
            return _apply(client, edge, log)
        except docker.errors.APIError as exc:
            if attempt == REFRESH_TRIES:
                log(f"the maintenance page was not updated: {exc.explanation or exc}")
                return "failed"
            time.sleep(random.uniform(0.1, 0.5) * attempt)  # noqa: S311 - spreading writers, not a secret
    return None


def _apply(client: docker.DockerClient, edge: Edge, log: Log) -> str:
    ours = fallbacks(edge)
    live = ops.find_service(client, SERVICE_NAME)
    kept: dict[str, str] = {}
    if live is not None:
        held = {f.slug for f in ours}
        for slug, labels in fallback_groups(live.attrs["Spec"].get("Labels") or {}).items():
            if slug not in held and ops.find_service(client, service_name(slug, "odoo")) is not None:
                kept.update(labels)
    spec = maintenance_service(edge.maintenance_image, edge.network, ours, kept)
    return ops.apply_service(client, spec, log)


def serves_error_pages(cluster: Cluster, traefik_network: str) -> bool:
    """Whether a site's router may name the edge's errors middleware: only behind an edge that has
    answered since its last deploy. A router naming a middleware Traefik does not have is disabled
    (404 for the whole site), so an edge that never came up must not be named."""
    return (
        bool(traefik_network)
        and Edge.objects.filter(cluster=cluster, network=traefik_network, status=Edge.Status.UP).exists()
    )


def wait_routed(site: Site, servers: int, log: Log = _quiet) -> bool:
    """After a job brought the site's replicas back: wait until the edge sends the site to `servers`
    servers through an enabled router (Traefik reads the Swarm every refresh_seconds), so that the job
    ends when users are served again, not seconds before. False, with a line in the log, when the edge
    does not say so in time; nothing to wait for without an edge, or for a site it does not route."""
    edge = Edge.of(site.cluster)
    if edge is None or servers <= 0 or site.traefik_network != edge.network or not site.domains.exists():
        return True
    deadline = time.monotonic() + 2 * edge.refresh_seconds + ROUTED_SLACK_S
    seen = -1
    while True:
        try:
            routers = [
                r
                for r in read_status(edge.api_url).routers
                if r.name == f"{site.slug}@swarm" and r.status in ("", "enabled")
            ]
            seen = len(routers[0].servers) if routers else 0
        except EdgeUnreachable as exc:
            log(f"the edge: {exc}")
        if seen == servers:
            log(f"the edge routes {site.slug} to {servers} servers")
            return True
        if time.monotonic() > deadline:
            log(f"the edge routes {site.slug} to {max(seen, 0)} servers, not {servers}, after the job")
            return False
        time.sleep(0.5)
