"""Helpers of the module-update lab tests: sites deployed once per test module, variant images, and
what the Swarm looks like from the outside (replicas, running tasks, one-off services left behind).

Deploying a site and installing its modules costs about 40 s, so a test module that runs the same
scenario many times (a kill at each step) deploys once. pytest-django empties every table after
each transactional test, so the panel's rows are written again from a snapshot (`SiteRows`) for
every test, pointing at the same live services.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest
from django.test import override_settings

from clusters import swarm_ops as ops
from clusters.models import Cluster, Domain, Site
from clusters.stack import service_name
from jobs.models import Job
from lab.api import LabInfo
from panel.crypto import reveal
from tests.modules.engine_proxy import EngineProxy
from tests.sites.conftest import build_variant, new_lab_site, remove_site_objects
from tests.sites.jobrun import log_text, run_inline

# Site services; anything else named <slug>_... is a one-off task (update, query, backup, ...).
SITE_ROLES = ("db", "redis", "odoo", "cron")
# Each module installed or updated takes this long in the stand-in (its README): long enough for a
# test to see the update task running, short enough for the suite.
SLOW_MODULE_SECONDS = "1"


@dataclass
class SiteRows:
    """The panel's rows of a deployed site, to write again after pytest-django emptied the tables."""

    cluster: dict[str, Any]
    site: dict[str, Any]
    domains: list[str]

    @classmethod
    def of(cls, site: Site) -> SiteRows:
        site.refresh_from_db()
        skip = {"id", "cluster_id", "created_at", "updated_at"}
        fields = {
            f.attname: getattr(site, f.attname) for f in Site._meta.concrete_fields if f.attname not in skip
        }
        fields["db_password"] = reveal(site.db_password)
        fields["admin_password"] = reveal(site.admin_password)
        cluster = {"name": site.cluster.name, "endpoint": site.cluster.endpoint, "is_lab": True}
        return cls(cluster=cluster, site=fields, domains=list(site.domains.values_list("name", flat=True)))

    def restore(self) -> Site:
        """The site row (and its cluster and domains): the one that exists, or a new one."""
        found = Site.objects.filter(slug=self.site["slug"]).select_related("cluster").first()
        if found is not None:
            return found
        cluster, _ = Cluster.objects.get_or_create(name=self.cluster["name"], defaults=self.cluster)
        site = Site.objects.create(cluster=cluster, **self.site)
        for name in self.domains:
            Domain.objects.create(site=site, name=name)
        return site


def new_site(lab: LabInfo, client: docker.DockerClient, cluster: Cluster, replicas: int = 2) -> Site:
    """A site with its own image tag (as tests/sites' make_site), so a variant can replace the image."""
    return new_lab_site(lab, client, cluster, replicas=replicas)


def push_variant(lab: LabInfo, client: docker.DockerClient, site: Site, lines: list[str]) -> str:
    """Build FROM the lab's Odoo image with `lines`, push it under the site's own tag; its digest."""
    return build_variant(client, lab.image("odoo").ref, site.image, lines)


def manifest_line(addon: str, manifest: dict[str, Any]) -> str:
    """A Dockerfile RUN that writes an addon's manifest (and __init__.py) in /mnt/extra-addons."""
    folder = f"/mnt/extra-addons/{addon}"
    code = (
        f"import os; os.makedirs({folder!r}, exist_ok=True); "
        f"open({folder + '/__manifest__.py'!r}, 'w').write({repr(manifest)!r}); "
        f"open({folder + '/__init__.py'!r}, 'a').close()"
    )
    return f"RUN python3 -c {_sh_quote(code)}"


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def deploy_and_install(monkeypatch: pytest.MonkeyPatch, site: Site) -> Site:
    """Deploy the site (resolving its tag now) and install the demo modules."""
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    job = run_inline(monkeypatch, "module_install", site, modules=["shop_sale", "shop_stock"], backup=False)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    site.refresh_from_db()
    return site


def redeploy(monkeypatch: pytest.MonkeyPatch, site: Site) -> Site:
    """Deploy whatever the site's tag points to now (a variant just pushed)."""
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    site.refresh_from_db()
    return site


def put_in_place(client: docker.DockerClient, site: Site, digest: str) -> Site:
    """New code reaches the running site without the panel's deploy (one from before the gate and
    the boot check existed, or by hand): what an update must still judge."""
    ref = f"{site.image.rpartition(':')[0]}@{digest}"
    for role in ("odoo", "cron"):
        name = service_name(site.slug, role)
        since = datetime.datetime.now(datetime.UTC)
        client.services.get(name).update(image=ref)
        ops.wait_converged(client, name, since=since, deadline_s=300)
    Site.objects.filter(pk=site.pk).update(image_digest=digest)
    site.refresh_from_db()
    return site


@contextlib.contextmanager
def module_site(
    lab: LabInfo,
    client: docker.DockerClient,
    django_db_blocker: Any,
    redis_url: str,
    *,
    endpoint: str,
    variant: list[str] | None = None,
) -> Iterator[SiteRows]:
    """Deploy one site for a whole test module (see the module docstring); removed at the end."""
    slug = ""
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(JOB_LOG_REDIS_URL=redis_url, JOB_HEARTBEAT_SECONDS=1),
            pytest.MonkeyPatch.context() as mp,
        ):
            cluster = Cluster.objects.create(
                name=f"lab-mod-{uuid.uuid4().hex[:8]}", endpoint=endpoint, is_lab=True
            )
            site = new_site(lab, client, cluster)
            slug = site.slug
            if variant:
                push_variant(lab, client, site, variant)
            rows = SiteRows.of(deploy_and_install(mp, site))
        yield rows
    finally:
        if slug:
            remove_site_objects(client, slug, lab)


# --- the Swarm seen from outside ------------------------------------------------------------------
def replicas(client: docker.DockerClient, name: str) -> int | None:
    try:
        spec = client.services.get(name).attrs["Spec"]
    except docker.errors.NotFound:
        return None
    return spec.get("Mode", {}).get("Replicated", {}).get("Replicas")


def running_tasks(client: docker.DockerClient, name: str, *, wanted: bool = False) -> int:
    """Tasks actually running; with a healthcheck Swarm reports `running` only once healthy.
    wanted=True counts only tasks Swarm wants running (not old ones being stopped); a job-mode
    task's desired state is `complete`, so one-offs are counted without it."""
    filters = {"service": name, **({"desired-state": "running"} if wanted else {})}
    try:
        tasks = client.api.tasks(filters=filters)
    except docker.errors.NotFound:
        return 0
    return sum(1 for t in tasks if t.get("Status", {}).get("State") == "running")


def one_offs(client: docker.DockerClient, slug: str) -> list[str]:
    """Services of the site other than its four: one-off tasks left behind."""
    names = [s.name for s in client.services.list(filters={"name": f"{slug}_"})]
    return sorted(
        n for n in names if n.startswith(f"{slug}_") and n.removeprefix(f"{slug}_") not in SITE_ROLES
    )


def healthy_before(client: docker.DockerClient, slug: str) -> None:
    """A test's starting point: the site at its replicas (a task restarted by the previous test's
    restore may still be starting)."""
    wait_until(lambda: site_is_back(client, slug) == "", 60, f"{slug} to run its replicas")


def site_is_back(client: docker.DockerClient, slug: str, web: int = 2) -> str:
    """ "" when the site runs its replicas (web healthy, cron 1) and no one-off is left; else why not."""
    problems = []
    if replicas(client, f"{slug}_odoo") != web or replicas(client, f"{slug}_cron") != 1:
        problems.append(
            f"replicas odoo={replicas(client, f'{slug}_odoo')} cron={replicas(client, f'{slug}_cron')}"
        )
    if (running := running_tasks(client, f"{slug}_odoo", wanted=True)) != web:
        tasks = client.api.tasks(filters={"service": f"{slug}_odoo", "desired-state": "running"})
        states = ", ".join(
            sorted(f"{t['Status']['State']} {t['Status'].get('Err', '')}".strip() for t in tasks)
        )
        problems.append(f"{running}/{web} odoo tasks running ({states})")
    if left := one_offs(client, slug):
        problems.append(f"one-off services left: {', '.join(left)}")
    return "; ".join(problems)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def result_of(job: Job) -> dict[str, Any]:
    """The job's result (a failed module update keeps its verdict there)."""
    assert job.result is not None, f"job {job.pk} ({job.state}) has no result: {job.error}"
    return dict(job.result)


def step_state(job_id: int, name: str) -> str:
    steps = Job.objects.values_list("steps", flat=True).get(pk=job_id) or []
    return next((s["state"] for s in steps if s["name"] == name), "")


def job_inside(client: docker.DockerClient, job_id: int, slug: str, step: str, proxy: EngineProxy) -> bool:
    """True once the job is where a test wants to strike (see test_update_kill_lab); fails if the
    job went past that step."""
    state = step_state(job_id, step)  # "" until a worker starts the job and writes its plan
    if state not in ("", "pending", "running"):
        job = Job.objects.get(pk=job_id)
        raise AssertionError(f"missed {step}: it is {state} (job {job.state}: {job.error})")
    if state != "running":
        return False
    own = [n for n in one_offs(client, slug) if n.endswith(f"_j{job_id}")]
    if step in ("Check", "Backup", "Verify"):
        return bool(own)
    if step == "Record replicas":
        return proxy.held.is_set()
    if step == "Scale to 0":
        return replicas(client, f"{slug}_odoo") == 0
    if step == "Update":
        return running_tasks(client, f"{slug}_update_j{job_id}") == 1
    return True  # Restore replicas: the replicas are coming back
