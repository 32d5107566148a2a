"""The lab site the module_update benchmark updates: made and deployed with the demo modules, waited
on until its web replicas run, and removed at the end."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from bench.module_update_ways import run_job_here, succeeded

REAL = "odoo19-real"


def make_site(lab: Any, *, real: bool = False) -> Any:
    """A lab site on the lab's Odoo stand-in with the demo modules installed, or (real) on real Odoo
    19 with the user's addon lab_note installed; deployed from nothing by the panel's jobs."""
    import docker

    from clusters.models import Cluster, Domain, Site
    from jobs import control
    from lab.edge import NETWORK, ensure_lab_edge
    from lab.site_images import push_site_image
    from lab.sites import lab_site_fields

    cluster = Cluster.objects.create(name="lab-bench", endpoint=lab.manager_socket, is_lab=True)
    ensure_lab_edge(cluster, lab)  # users reach the site through the lab's real Traefik
    slug = f"b{uuid.uuid4().hex[:8]}"
    fields = lab_site_fields(lab, slug)
    modules = ["shop_sale", "shop_stock"]
    if real:
        tag = f"{lab.registry}/oplab/site-{slug}:19.0"
        client = docker.DockerClient(base_url=lab.manager_socket)
        push_site_image(client, lab.image(REAL).ref, tag)
        client.close()
        fields, modules = lab_site_fields(lab, slug, odoo=REAL, image=tag), ["lab_note"]
    site = Site.objects.create(cluster=cluster, **{**fields, "traefik_network": NETWORK})
    Domain.objects.create(site=site, name=f"{slug}.lab.test")
    control.enqueue = lambda job_id, task_id: None  # jobs run here, as a worker would run them
    for kind, params in (("deploy", {}), ("module_install", {"modules": modules})):
        succeeded(run_job_here(kind, site, {**params, "backup": False}), f"{kind} failed")
    site.refresh_from_db()
    return site


def remove_site(client: Any, slug: str) -> None:
    for service in client.services.list(filters={"name": f"{slug}_"}):
        with contextlib.suppress(Exception):
            service.remove()
    time.sleep(3)  # tasks must be gone before their network and volumes can go
    for network in client.networks.list(filters={"label": f"panel.site={slug}"}):
        with contextlib.suppress(Exception):
            network.remove()
    for volume in client.volumes.list(filters={"label": f"panel.site={slug}"}):
        with contextlib.suppress(Exception):
            volume.remove()


def wait_healthy(client: Any, slug: str, web: int, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        tasks = client.api.tasks(filters={"service": f"{slug}_odoo", "desired-state": "running"})
        if sum(1 for t in tasks if t["Status"]["State"] == "running") == web:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{slug}_odoo did not get back to {web} running tasks")
