"""A site as it is on its cluster: live services, drift against what it should be, the preflight
checklist on both. Reads only; reconciling is a job."""

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import docker
import requests
from django.utils import timezone

from clusters import engine
from clusters import swarm_ops as ops
from clusters.edge.checks import edge_checks
from clusters.models import Cluster, Site
from clusters.sites.registry_auth import credentials_mismatch, registry_auth_for
from clusters.sites.site_spec import spec_for
from clusters.stack import (
    CheckResult,
    Drift,
    SpecError,
    diff,
    live_stack_summary,
    preflight,
    render,
    service_name,
)
from clusters.stack.rules import image_registry
from jobs.models import Job
from panel import notify

log = logging.getLogger(__name__)


@dataclass
class SiteState:
    deployed: bool
    live: dict[str, Any]
    drift: list[Drift] = field(default_factory=list)
    pending: dict[str, list[str]] = field(default_factory=dict)  # service -> why tasks do not run
    running: int = 0


def read_live(client: docker.DockerClient, slug: str) -> tuple[dict[str, Any], dict[str, list[str]], int]:
    """The site's services (found by label), their running tasks and why others are pending."""
    services = client.services.list(filters={"label": f"panel.site={slug}"})
    # Every network, not only the site's: its services also join Traefik's network.
    networks = {n.id: n.name for n in client.networks.list()}
    tasks = {s.name: ops.tasks(client, s.name) for s in services}
    live = live_stack_summary([s.attrs for s in services], tasks, networks)
    pending = {name: reasons for s in services if (reasons := ops.pending_reasons(client, name := s.name))}
    odoo = service_name(slug, "odoo")
    running = sum(1 for t in tasks.get(odoo, []) if t.get("Status", {}).get("State") == "running")
    return live, pending, running


def site_state(site: Site, client: docker.DockerClient) -> SiteState:
    live, pending, running = read_live(client, site.slug)
    if not live["services"]:
        return SiteState(deployed=False, live=live)
    drift = diff(render(spec_for(site)).summary(), live) if site.image_digest else []
    return SiteState(deployed=True, live=live, drift=drift, pending=pending, running=running)


def check_drift(site: Site, client: docker.DockerClient | None = None) -> SiteState | None:
    """Compare and store the result on the site (the dashboard reads the stored one). None when the
    cluster cannot be reached (its own status says why). `client`: an open one, for a caller that
    checks a whole cluster's sites."""
    if client is None:
        try:
            with engine.client_for(site.cluster) as opened:
                return check_drift(site, opened)
        except engine.EngineError:
            return None
    state = site_state(site, client)
    if Job.objects.blocking_site(site.pk).exists():
        # A deploy or an update is changing the services on purpose (replicas at 0, a one-off
        # task): what differs now is not drift. Only the running count is worth showing.
        Site.objects.filter(pk=site.pk).update(running_replicas=state.running)
        return state
    had_drift = bool(site.drift)
    Site.objects.filter(pk=site.pk).update(
        drift=[d.as_dict() for d in state.drift],
        pending={k: v for k, v in state.pending.items()},
        drift_checked_at=timezone.now(),
        running_replicas=state.running,
        status=_status(site, state),
    )
    if had_drift != bool(state.drift):
        _announce_drift(site, state)
    return state


def _announce_drift(site: Site, state: SiteState) -> None:
    """drift.detected / drift.cleared, once per change of the site's drift (panel.notify)."""
    if state.drift:
        summary = "; ".join(f"{d.service}: {d.message}" for d in state.drift[:5])
        notify.emit(
            "drift.detected",
            site=site,
            payload={"summary": summary[:500], "count": len(state.drift)},
            subject=site.slug,
        )
    else:
        notify.emit("drift.cleared", site=site, payload={}, subject=site.slug)


def _status(site: Site, state: SiteState) -> str:
    """What the live state says of the site, when no job holds it (check_drift does not judge a
    site while a job changes it): so a "Deploying" or "Updating modules" left by a job whose
    worker died does not stand for ever."""
    if not state.deployed:
        return site.status
    if state.running == 0:
        return Site.Status.DOWN
    if state.running < site.replicas or state.drift or state.pending:
        return Site.Status.DEGRADED
    return Site.Status.HEALTHY


def check_cluster_drift(cluster: Cluster) -> int:
    """Drift of every deployed site of a cluster that no job holds, through one engine connection
    (beat runs it). Returns the number of sites checked; an unreachable cluster checks none."""
    held = Job.objects.unfinished().filter(mutating=True).values("site_id")
    sites = list(
        Site.objects.filter(cluster=cluster)
        .exclude(image_digest="")
        .exclude(pk__in=held)
        .select_related("cluster")
        .prefetch_related("cluster__nodes", "domains")  # spec_for reads both for every site
    )
    if not sites:
        return 0
    checked = 0
    try:
        with engine.client_for(cluster) as client:
            for site in sites:
                try:
                    check_drift(site, client)
                    checked += 1
                except (docker.errors.DockerException, requests.RequestException, SpecError) as exc:
                    log.warning("drift of %s not checked: %s", site.slug, exc)  # the next site still is
    except engine.EngineError:
        pass  # the cluster's own status (node sync) says why
    return checked


def preflight_for(site: Site) -> tuple[list[CheckResult], str]:
    """Checklist on the rendered stack and, when the cluster is reachable, what only the cluster
    can tell (the image resolves at its registry, the database node exists) and, once deployed,
    the same checklist on the live services."""
    spec = spec_for(site)
    try:
        with engine.client_for(site.cluster) as client:
            live, _, _ = read_live(client, site.slug)
            digest, resolution = _resolve(client, site)
            cluster_checks = [_db_node_check(client, site), *_credentials_check(site)]
    except engine.EngineError as exc:
        return preflight(spec), f"live services not checked: {exc.message}"
    if digest and not spec.image_digest:
        spec = replace(spec, image_digest=digest)  # what the first deploy will pin
    results = preflight(spec, live if live["services"] else None, digest_resolution_error=resolution)
    note = "" if live["services"] else "not deployed yet: the rendered stack and the cluster are checked"
    cluster_checks += edge_checks(site, site.running_replicas if live["services"] else None)
    return results + cluster_checks, note


def _resolve(client: docker.DockerClient, site: Site) -> tuple[str, str | None]:
    """(digest, None) when the site's image tag resolves at its registry now, else ("", why). The
    credentials go along only when the image is on the registry they were entered for (a viewer's page
    view runs this too)."""
    try:
        return ops.resolve_digest(client, site.image, registry_auth_for(site, site.image)), None
    except (ops.SwarmError, docker.errors.DockerException, requests.RequestException) as exc:
        mismatch = credentials_mismatch(site, site.image)
        return "", f"{exc} ({mismatch})" if mismatch else str(exc)


def _credentials_check(site: Site) -> list[CheckResult]:
    """Whether the stored registry credentials are for the image's registry (none: no check)."""
    if not site.registry_username:
        return []
    mismatch = credentials_mismatch(site, site.image)
    return [
        CheckResult(
            key="registry_credentials",
            title="Registry credentials are for the image's registry",
            ok=mismatch is None,
            severity="soft",
            reason=mismatch or f"they are sent to {site.registry_host} only",
            fix=f"edit the site: enter the username and password for {image_registry(site.image)}, or "
            "clear the username if the image needs none"
            if mismatch
            else "",
            source="live",
        )
    ]


def _db_node_check(client: docker.DockerClient, site: Site) -> CheckResult:
    hostnames = sorted(n.attrs.get("Description", {}).get("Hostname", "") for n in client.nodes.list())
    ok = site.db_node in hostnames
    return CheckResult(
        key="db_node_exists",
        title="The database node is in the cluster",
        ok=ok,
        severity="hard",
        reason=f"{site.db_node} is a node of {site.cluster.name}"
        if ok
        else f"no node of {site.cluster.name} is named {site.db_node!r}: the database would wait for ever",
        fix="" if ok else f"set the database node to one of: {', '.join(hostnames)}",
        source="live",
    )
