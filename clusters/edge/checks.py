"""Preflight's edge items, judged from what the cluster's Traefik says live (clusters/edge/status.py),
not from the labels the panel wrote: it answers, it shares the site's network, no other router
already routes one of the site's domains, and once deployed it routes the site to its replicas."""

from __future__ import annotations

from clusters.edge.status import EdgeStatus, EdgeUnreachable, read_status
from clusters.models import Edge, Site
from clusters.stack.checks_common import Severity
from clusters.stack.preflight import CheckResult
from clusters.stack.traefik import router_names


def _item(key: str, title: str, ok: bool, reason: str, fix: str, severity: Severity = "hard") -> CheckResult:
    return CheckResult(
        key=key, title=title, ok=ok, severity=severity, reason=reason, fix="" if ok else fix, source="live"
    )


def own_routers(site: Site) -> set[str]:
    return {f"{name}@swarm" for name in router_names(site.slug)}


def domain_owners(status: EdgeStatus, domains: list[str], mine: set[str]) -> dict[str, list[str]]:
    """Each domain that a router other than `mine` (or the edge's own fallbacks) routes: its routers."""
    owners: dict[str, list[str]] = {}
    for domain in domains:
        others = [
            r.name
            for r in status.routers_for(domain)
            if r.name not in mine and not r.name.startswith("maintenance-")
        ]
        if others:
            owners[domain] = others
    return owners


def held_elsewhere(site: Site, domain: str) -> list[str]:
    """The routers other than the site's own that route `domain` on the site's edge, read live; none
    without an edge or when it does not answer (the panel's own table still holds names unique)."""
    edge = Edge.of(site.cluster)
    if edge is None:
        return []
    try:
        status = read_status(edge.api_url)
    except EdgeUnreachable:
        return []
    return domain_owners(status, [domain], own_routers(site)).get(domain, [])


def edge_checks(site: Site, replicas_running: int | None) -> list[CheckResult]:
    """The edge's items; none for a cluster the panel runs no edge on."""
    edge = Edge.of(site.cluster)
    if edge is None:
        return []
    try:
        status = read_status(edge.api_url)
    except EdgeUnreachable as exc:
        return [_item("edge_answers", "The edge answers", False, str(exc), "Deploy the cluster's edge.")]
    items = [
        _item("edge_answers", "The edge answers", True, f"Traefik {status.version} at {edge.api_url}", "")
    ]
    shared = site.traefik_network == edge.network
    items.append(
        _item(
            "edge_network",
            "Shares a network with the edge",
            shared,
            f"the site joins {edge.network}, the edge's overlay"
            if shared
            else f"the site's Traefik network is {site.traefik_network or 'none'}, "
            f"the edge's is {edge.network}",
            f"Set the site's Traefik network to {edge.network}.",
        )
    )
    domains = sorted(site.domains.values_list("name", flat=True))
    owners = domain_owners(status, domains, own_routers(site))
    items.append(
        _item(
            "domains_unique_on_edge",
            "No other router on the edge routes its domains",
            not owners,
            "; ".join(f"{d} is routed by {', '.join(r)}" for d, r in owners.items())
            or f"{len(domains)} domains, none routed by another router",
            "Remove the domain from the site or router that holds it first.",
        )
    )
    if replicas_running:
        mine = [r for r in status.routers if r.name == f"{site.slug}@swarm" and r.status in ("", "enabled")]
        servers = len(mine[0].servers) if mine else 0
        items.append(
            _item(
                "edge_routes_site",
                "The edge routes the site to its replicas",
                servers == replicas_running,
                f"Traefik sends {site.slug} to {servers} servers; {replicas_running} replicas run",
                "Reconcile the site; if it persists, check that the edge reads the Swarm (its log).",
                severity="soft",
            )
        )
    return items
