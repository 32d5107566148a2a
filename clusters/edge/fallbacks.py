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
from jobs.models import Job, Kind

# What the page says of a site: what the job holding it does, else what its status says. A reason is
# written when a job takes its site down and again when it brings it back (quiet.py), so a site
# that goes down later for another cause is not said to be "being updated" by a job long ended.
JOB_REASONS = {
    Kind.MODULE_UPDATE: "Its modules are being updated; it is back in a few minutes.",
    Kind.MODULE_INSTALL: "Modules are being installed; it is back in a few minutes.",
    Kind.RESTORE: "It is being restored from a backup.",
    Kind.DEPLOY: "It is being deployed.",
}
STATUS_REASONS = {
    Site.Status.DEPLOYING: "It is being deployed.",
    Site.Status.NEW: "It is being deployed.",
}
DEFAULT_REASON = "It is starting or under maintenance."
ROUTED_SLACK_S = 10.0
Log = Callable[[str], object]
REFRESH_TRIES = 5


def _quiet(_: str) -> None:
    pass


def reason(site: Site, holding_kind: str | None) -> str:
    if holding_kind in JOB_REASONS:
        return JOB_REASONS[holding_kind]  # type: ignore[index]
    return STATUS_REASONS.get(site.status, DEFAULT_REASON)  # type: ignore[call-overload]


def fallbacks(edge: Edge, released: int | None = None) -> list[Fallback]:
    """The page of every site behind the edge; `released`: a site whose job has just brought it back
    (still unfinished, but no longer the reason it would be down)."""
    sites = Site.objects.filter(cluster=edge.cluster, traefik_network=edge.network).prefetch_related(
        "domains"
    )
    holding = Job.objects.unfinished().filter(mutating=True, site__cluster=edge.cluster)
    held = {site_id: kind for site_id, kind in holding.values_list("site_id", "kind") if site_id != released}
    return [
        Fallback(
            slug=site.slug,
            name=site.name or site.slug,
            domains=tuple(sorted(d.name for d in site.domains.all())),
            entrypoint=site.traefik_entrypoint,
            reason=reason(site, held.get(site.pk)),
        )
        for site in sites
    ]


def refresh(
    client: docker.DockerClient, cluster: Cluster, log: Log = _quiet, released: int | None = None
) -> str | None:
    """Apply the maintenance service for the cluster's edge as the sites are now; None without an
    edge. Two writers at once (two jobs, two panels) make Swarm refuse the later update ("update out
    of sequence"): it is read again and applied again. A page that still cannot be written is said in
    the log and does not fail the job: the site itself is not at stake."""
    edge = Edge.of(cluster)
    if edge is None:
        return None
    for attempt in range(1, REFRESH_TRIES + 1):
        try:
            return _apply(client, edge, log, released)
        except docker.errors.APIError as exc:
            if attempt == REFRESH_TRIES:
                log(f"the maintenance page was not updated: {exc.explanation or exc}")
                return "failed"
            time.sleep(random.uniform(0.1, 0.5) * attempt)  # noqa: S311 - spreading writers, not a secret
    return None


def _apply(client: docker.DockerClient, edge: Edge, log: Log, released: int | None) -> str:
    ours = fallbacks(edge, released)
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
