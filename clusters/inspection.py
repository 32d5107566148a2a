"""A site as it is on its cluster: live services, drift against what it should be, the preflight
checklist on both. Reads only; reconciling is a job."""

from dataclasses import dataclass, field
from typing import Any

import docker
from django.utils import timezone

from clusters import engine
from clusters import swarm_ops as ops
from clusters.models import Site
from clusters.site_spec import spec_for
from clusters.stack import CheckResult, Drift, diff, live_stack_summary, preflight, render


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
    odoo = f"{slug}_odoo"
    running = sum(1 for t in tasks.get(odoo, []) if t.get("Status", {}).get("State") == "running")
    return live, pending, running


def site_state(site: Site, client: docker.DockerClient) -> SiteState:
    live, pending, running = read_live(client, site.slug)
    if not live["services"]:
        return SiteState(deployed=False, live=live)
    drift = diff(render(spec_for(site)).summary(), live) if site.image_digest else []
    return SiteState(deployed=True, live=live, drift=drift, pending=pending, running=running)


def check_drift(site: Site) -> SiteState | None:
    """Compare and store the result on the site (the dashboard reads the stored one). None when the
    cluster cannot be reached (its own status says why)."""
    try:
        with engine.client_for(site.cluster) as client:
            state = site_state(site, client)
    except engine.EngineError:
        return None
    status = site.status
    if state.deployed and site.status not in (Site.Status.DEPLOYING, Site.Status.UPDATING):
        if state.running == 0:
            status = Site.Status.DOWN
        elif state.running < site.replicas or state.drift or state.pending:
            status = Site.Status.DEGRADED
        else:
            status = Site.Status.HEALTHY
    Site.objects.filter(pk=site.pk).update(
        drift=[d.as_dict() for d in state.drift],
        pending={k: v for k, v in state.pending.items()},
        drift_checked_at=timezone.now(),
        running_replicas=state.running,
        status=status,
    )
    return state


def preflight_for(site: Site) -> tuple[list[CheckResult], str]:
    """Checklist on the rendered stack and, when reachable and deployed, on the live services."""
    spec = spec_for(site)
    try:
        with engine.client_for(site.cluster) as client:
            live, _, _ = read_live(client, site.slug)
    except engine.EngineError as exc:
        return preflight(spec), f"live services not checked: {exc.message}"
    if not live["services"]:
        return preflight(spec), "not deployed yet: only the rendered stack is checked"
    return preflight(spec, live), ""
