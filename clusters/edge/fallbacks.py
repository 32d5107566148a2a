"""Keeping the edge's maintenance service in step with the sites behind it (clusters/edge/maintenance.py
says what it is). Called when the edge is deployed, when a site is deployed or its domains change, and
when a module update takes a site down and brings it back (the page says what is happening). A
cluster without an edge has nothing to keep: every call is then a no-op."""

from __future__ import annotations

from collections.abc import Callable

import docker

from clusters import swarm_ops as ops
from clusters.edge.maintenance import SERVICE_NAME, Fallback, fallback_groups, maintenance_service
from clusters.models import Cluster, Edge, Site
from clusters.stack import service_name

REASONS = {
    Site.Status.UPDATING: "Its modules are being updated; it is back in a few minutes.",
    Site.Status.DEPLOYING: "It is being deployed.",
    Site.Status.NEW: "It is being deployed.",
}
DEFAULT_REASON = "It is starting or under maintenance."


def _quiet(_: str) -> None:
    pass


def edge_of(cluster: Cluster) -> Edge | None:
    return Edge.objects.filter(cluster=cluster).first()


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


def refresh(
    client: docker.DockerClient, cluster: Cluster, log: Callable[[str], object] = _quiet
) -> str | None:
    """Apply the maintenance service for the cluster's edge as the sites are now; None without an edge."""
    edge = edge_of(cluster)
    if edge is None:
        return None
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
    """Whether a site's router may name the edge's errors middleware (it exists only with the edge)."""
    return bool(traefik_network) and Edge.objects.filter(cluster=cluster, network=traefik_network).exists()
