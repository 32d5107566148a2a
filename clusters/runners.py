"""The site jobs: deploy, reconcile, scale, read installed modules, back up. Each is a JobRunner (the
base owns lifecycle, heartbeat, log and compensation), so each reads as its sequence of steps.

Compensation actions used by these and the module update live here too, next to the docker code
they need: restore_replicas (scale a service back to what the job recorded) and remove_service
(a one-off task left behind).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import requests
from django.utils import timezone

from clusters import engine
from clusters import swarm_ops as ops
from clusters.checksums import changed_modules, read_checksums
from clusters.deploy import deploy, run_one_off
from clusters.models import Site
from clusters.site_spec import spec_for
from clusters.stack import SpecError
from clusters.stack.render import ServiceSpec, render_query_task
from jobs.compensation import compensation
from jobs.models import Job
from jobs.runner import JobFailed, JobRunner, register
from panel.crypto import reveal

# A read of the site's database that fails for a reason of the overlay network is tried again
# for this long: a task on a node new to the network cannot resolve the database's name until
# Swarm's gossip reaches that node, which took over 20 s on a busy lab.
QUERY_RETRY_S = 90
TRANSIENT_PSQL_ERRORS = ("timeout expired", "could not translate host name", "Connection refused")
MODULES_SQL = (
    "SELECT m.name, m.state, COALESCE(m.latest_version, ''), "
    "COALESCE(string_agg(d.name, ',' ORDER BY d.name), '') "
    "FROM ir_module_module m LEFT JOIN ir_module_module_dependency d ON d.module_id = m.id "
    "WHERE m.state NOT IN ('uninstalled', 'uninstallable') "
    "GROUP BY m.id, m.name, m.state, m.latest_version ORDER BY m.name"
)


@contextlib.contextmanager
def site_client(runner: JobRunner) -> Iterator[docker.DockerClient]:
    """The site's cluster engine; an engine that cannot be reached, or is lost mid-job, fails the
    job with its reason.

    The body's own exceptions must not pass through client_for's handler: it turns everything into
    an EngineError, so a cancel (JobCancelled) or a JobFailed would end as "the engine answered
    with an error: ...". The client is therefore closed without the exception (ExitStack.close),
    and only engine trouble raised by the body is translated here."""
    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(engine.client_for(runner.cluster))
    except engine.EngineError as exc:
        raise JobFailed(exc.message) from exc
    try:
        yield client
    except ops.SwarmError as exc:
        raise JobFailed(str(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError) as exc:
        raise JobFailed(engine_lost(runner, exc)) from exc
    finally:
        stack.close()


def engine_lost(runner: JobRunner, exc: BaseException) -> str:
    """What an engine error in the middle of a job means, for the job's error line."""
    endpoint = getattr(runner.cluster, "endpoint", "?")
    reason = engine._classify(exc, endpoint).message  # the engine module's own wording
    # The step that raised has already been marked failed by the time this runs; the first one
    # failed is where the engine was lost (a restore attempted after it fails too).
    step = next((s for s in runner.job.steps if s.get("state") in ("running", "failed")), None)
    return f"{reason} (during {step['name']})" if step else reason


def _set_status(site: Site, status: str, **fields: Any) -> None:
    Site.objects.filter(pk=site.pk).update(status=status, **fields)


@compensation("remove_service")
def remove_service(job: Job, log: Any, *, service: str) -> str:
    with engine.client_for(job.cluster or job.site.cluster) as client:  # type: ignore[union-attr]
        removed = ops.remove_service(client, service)
    return f"{service} removed" if removed else f"{service} was already gone"


def _ensure_lab_filestore(site: Site) -> None:
    # Lab nodes share this machine's disk, so the bind path made here exists on every node.
    if site.cluster.is_lab and site.filestore_kind == Site.Filestore.BIND and site.bind_path:
        Path(site.bind_path).mkdir(parents=True, exist_ok=True)


@register
class DeployRunner(JobRunner):
    """Resolve the tag, render, apply start-first, wait, probe; roll back on failure."""

    kind = "deploy"
    plan = [
        "Resolve image",
        "Preflight",
        "Image check",
        "Database and Redis",
        "Odoo and cron",
        "Health probe",
    ]
    resolve = True

    def run(self) -> dict[str, Any]:
        site = self.site
        _ensure_lab_filestore(site)
        _set_status(site, Site.Status.DEPLOYING)
        try:
            spec = spec_for(site)
            with site_client(self) as client:
                result = deploy(
                    client,
                    spec,
                    run_id=f"j{self.job.pk}",
                    registry_auth=(site.registry_username, reveal(site.registry_password)),
                    log=self.log,
                    step=self.step,
                    resolve=self.resolve,
                )
        except (ops.SwarmError, SpecError) as exc:
            _set_status(site, Site.Status.DEGRADED)
            raise JobFailed(str(exc)) from exc
        except BaseException:
            _set_status(site, Site.Status.DEGRADED)
            raise
        _set_status(
            site,
            Site.Status.HEALTHY,
            image_digest=result.digest,
            running_replicas=len(result.healthy),
            drift=[],
            pending={},
        )
        return {
            "digest": result.digest,
            "created": result.created,
            "updated": result.updated,
            "healthy_tasks": len(result.healthy),
        }


@register
class ReconcileRunner(DeployRunner):
    """Put the live services back to what the site should be, on the digest already pinned
    (drift repair must not pull in a new image behind the operator's back)."""

    kind = "reconcile"
    plan = ["Preflight", "Image check", "Database and Redis", "Odoo and cron", "Health probe"]
    resolve = False


@register
class DomainRunner(ReconcileRunner):
    """A domain added or removed: the router rule is rendered anew and applied by the same path."""

    kind = "domain"


@register
class ScaleRunner(JobRunner):
    kind = "scale"
    plan = ["Scale", "Wait"]
    sets_site = ("replicas",)

    def run(self) -> dict[str, Any]:
        site, replicas = self.site, int(self.params["replicas"])
        if not 1 <= replicas <= 20:
            raise JobFailed("replicas must be between 1 and 20")
        name = f"{site.slug}_odoo"
        with site_client(self) as client:
            with self.step("Scale"):
                before = ops.find_service(client, name)
                if before is None:
                    raise JobFailed(f"{name} does not exist: deploy the site first")
                self.log(f"{name}: {ops.replicas_of(before)} -> {replicas} replicas")
                Site.objects.filter(pk=site.pk).update(replicas=replicas)
                since = timezone.now()
                ops.scale(client, name, replicas)
            with self.step("Wait"):
                try:
                    ops.wait_converged(client, name, since=since, deadline_s=600, log=self.log)
                except ops.SwarmError as exc:
                    raise JobFailed(str(exc)) from exc
        _set_status(site, Site.Status.HEALTHY, running_replicas=replicas)
        return {"replicas": replicas}


@contextlib.contextmanager
def one_off_guard(runner: JobRunner | None, service: str) -> Iterator[None]:
    """Record `remove_service` while a one-off task exists: run_one_off removes it in a `finally`,
    which never runs when the worker is SIGKILLed; then the reaper removes it."""
    if runner is None:
        yield
        return
    runner.set_compensation("remove_service", service=service)
    yield
    runner.clear_compensation("remove_service")


def run_db_reader(
    client: docker.DockerClient,
    task: ServiceSpec,
    deadline_s: float,
    *,
    log: Any,
    guard: JobRunner | None = None,
    show_lines: bool = False,
    what: str,
) -> tuple[int, list[str]]:
    """Run a one-off task that only reads the site's database (psql, pg_dump) to its end; run it
    again while it fails for a reason of the overlay network, for up to QUERY_RETRY_S. A fresh
    task's first connection can time out, or not resolve the database's name, while the network's
    VXLAN entries and names settle on its node (seen right after services are scaled, and on a busy
    cluster): a read is safe to repeat. `show_lines`: each line of the task goes to `log` too."""
    give_up_at = time.monotonic() + QUERY_RETRY_S
    for attempt in itertools.count(1):
        with one_off_guard(guard, task.name):
            code, lines = run_one_off(client, task, deadline_s, log if show_lines else lambda _line: None)
        transient = any(mark in " ".join(lines) for mark in TRANSIENT_PSQL_ERRORS)
        if code == 0 or not transient or time.monotonic() + 2 * attempt > give_up_at:
            return code, lines
        log(
            f"{what}: {lines[-1] if lines else 'no answer'}; "
            f"trying again in {2 * attempt} s (attempt {attempt + 1}, for up to {QUERY_RETRY_S} s in all)"
        )
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")  # itertools.count never ends


def read_modules_and_depends(
    client: docker.DockerClient, site: Site, run_id: str, log: Any, guard: JobRunner | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """ir_module_module of the site's database (with each module's ir_module_module_dependency),
    read by psql in a one-off task on the site's network (the database is only reachable there).
    Returns name -> [state, latest_version] and name -> [direct depends].
    `guard`: the job to record the one-off task in (see one_off_guard)."""
    task = render_query_task(spec_for(site), MODULES_SQL, run_id)
    code, lines = run_db_reader(client, task, 120, log=log, guard=guard, what="reading the modules")
    if code != 0:
        raise JobFailed("reading the installed modules failed: " + " ".join(lines[-3:]))
    modules: dict[str, list[str]] = {}
    depends: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split("|")
        if len(parts) == 4:
            modules[parts[0]] = [parts[1], parts[2]]
            depends[parts[0]] = [d for d in parts[3].split(",") if d]
    log(f"{len(modules)} modules known to {site.db_name} (installed or in a transient state)")
    return modules, depends


def read_modules(
    client: docker.DockerClient, site: Site, run_id: str, log: Any, guard: JobRunner | None = None
) -> dict[str, list[str]]:
    """name -> [state, latest_version]; also stores the rows on the site, with their depends and
    the time they were read."""
    modules, depends = read_modules_and_depends(client, site, run_id, log, guard)
    Site.objects.filter(pk=site.pk).update(
        installed_modules=modules, module_depends=depends, modules_read_at=timezone.now()
    )
    return modules


@register
class ReadModulesRunner(JobRunner):
    """Read the site's installed modules, with the time they were read (used by the update form
    and by the approval gate)."""

    kind = "read_modules"
    mutating = False
    plan = ["Read ir_module_module"]

    def run(self) -> dict[str, Any]:
        site = self.site
        with site_client(self) as client, self.step("Read ir_module_module"):
            modules = read_modules(client, site, f"j{self.job.pk}", self.log, guard=self)
            # What the update form offers: modules whose code changed since their last update.
            try:
                current = read_checksums(client, site, f"j{self.job.pk}", self.log, guard=self)
            except (RuntimeError, ValueError) as exc:  # advisory: the modules read still stands
                self.log(f"addon checksums not read: {exc}", "stderr")
                current = None
        installed = sorted(n for n, (state, _) in modules.items() if state == "installed")
        site.refresh_from_db(fields=["installed_modules", "module_checksums"])
        changed = changed_modules(site, current).as_dict() if current is not None else {}
        return {
            "installed": len(installed),
            "transient": sorted(n for n, (s, _) in modules.items() if s.startswith("to ")),
            **changed,
        }


@compensation("restore_replicas_all")
def restore_replicas_all(job: Job, log: Any, *, services: dict[str, int]) -> str:
    """Scale each recorded service back; a one-off update task is removed by remove_service."""
    with engine.client_for(job.cluster or job.site.cluster) as client:  # type: ignore[union-attr]
        for name, replicas in services.items():
            ops.scale(client, name, replicas)
    return "restored " + ", ".join(f"{n}={r}" for n, r in services.items())


import jobs.module_update  # noqa: E402,F401  (registers the module-update runner)
