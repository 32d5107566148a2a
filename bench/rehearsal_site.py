"""The lab site bench/rehearsal.py rehearses and updates: made and deployed with the demo modules,
seeded with database rows and filestore files so that a copy's MB/s means something, and removed
with everything it left on every node (its services, volumes, containers and filestore folder)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from bench.module_update_ways import run_job_here, succeeded

# Rows of ~200 bytes of text that compresses as real data does (hex digests: about half).
SEED_SQL = (
    "DROP TABLE IF EXISTS bench_seed; "
    "CREATE TABLE bench_seed AS SELECT g AS id, md5(g::text) || repeat(md5((g * 7)::text), 5) AS payload "
    "FROM generate_series(1, {rows}) AS g; "
    "SELECT pg_database_size(current_database())"
)
FILE_BYTES = 256 * 1024


def make_site(lab: Any) -> Any:
    """A site on the lab's Odoo stand-in, its database on the first worker (not deployed yet)."""
    from clusters.models import Cluster, Domain, Site
    from lab.sites import lab_site_fields

    cluster = Cluster.objects.create(name="lab-bench", endpoint=lab.manager_socket, is_lab=True)
    slug = f"r{uuid.uuid4().hex[:8]}"
    site = Site.objects.create(cluster=cluster, **lab_site_fields(lab, slug))
    Domain.objects.create(site=site, name=f"{slug}.lab.test")
    return site


def deploy(site: Any) -> None:
    """Deployed from nothing by the panel's jobs, with the demo modules installed (shop_base <-
    shop_sale, shop_stock)."""
    from jobs import control

    control.enqueue = lambda job_id, task_id: None  # jobs run here, as a worker would run them
    succeeded(run_job_here("deploy", site, {}), "deploy failed")
    modules = {"modules": ["shop_sale", "shop_stock"], "backup": False}
    succeeded(run_job_here("module_install", site, modules), "module_install failed")
    site.refresh_from_db()
    return site


def seed(client: Any, site: Any, rows: int, filestore_mb: int) -> tuple[int, int]:
    """`rows` rows into the site's database and `filestore_mb` MB of attachment files into its
    filestore; (the database's bytes, the filestore's bytes added)."""
    from clusters import swarm_ops as ops
    from clusters.sites.site_spec import spec_for
    from clusters.stack.render import render_query_task

    task = render_query_task(spec_for(site), SEED_SQL.format(rows=int(rows)), "bseed")
    code, lines = ops.run_one_off(client, task, 1200, lambda _: None)
    sizes = [line.strip() for line in lines if line.strip().isdigit()]
    if code != 0 or not sizes:
        raise RuntimeError(f"seeding the database failed: {lines[-3:]}")
    folder = Path(site.bind_path) / "filestore" / site.db_name / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(filestore_mb * 1024 * 1024 // FILE_BYTES):
        (folder / f"{n:040x}").write_bytes(os.urandom(FILE_BYTES))
    return int(sizes[-1]), sum(p.stat().st_size for p in folder.iterdir())


def wait_running(client: Any, slug: str, web: int, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        tasks = client.api.tasks(filters={"service": f"{slug}_odoo", "desired-state": "running"})
        if sum(1 for t in tasks if t["Status"]["State"] == "running") == web:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{slug}_odoo did not get back to {web} running tasks")


def remove_site(lab: Any, client: Any, slug: str) -> None:
    """The site's services, then on every node its containers and volumes, and its filestore folder."""
    label = {"label": f"panel.site={slug}"}
    for service in client.services.list(filters={"name": f"{slug}_"}):
        with contextlib.suppress(Exception):
            service.remove()
    time.sleep(5)  # tasks must be gone before their network and volumes can go
    for node in lab.nodes:
        with contextlib.suppress(Exception):
            engine = lab.client(node.socket)
            for container in engine.containers.list(all=True, filters=label, sparse=True):
                with contextlib.suppress(Exception):
                    engine.api.remove_container(container.id, force=True)
            for volume in engine.volumes.list(filters=label):
                with contextlib.suppress(Exception):
                    volume.remove(force=True)
    for network in client.networks.list(filters=label):
        with contextlib.suppress(Exception):
            network.remove()
    shutil.rmtree(f"{lab.filestore_root}/{slug}", ignore_errors=True)
