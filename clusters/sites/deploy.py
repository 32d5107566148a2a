"""The deploy sequence: a site rendered, pinned by digest, converged, probed, rolled back on failure.

    resolve digest -> preflight -> image check and gate (refused: nothing changed) -> network
    -> db, redis (wait) -> odoo, cron (start-first, wait) -> boot check (each new replica's
    registry load: no module skipped) -> health probe from inside the site's network -> done,
    or roll back odoo and cron with the reason

Written against two callables so that it runs inside a job (the job's log and steps) and in tests.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters.models import Site
from clusters.sites import boot_check, image_check
from clusters.sites.client import set_status, site_client
from clusters.sites.image_gate import gate_image
from clusters.sites.site_spec import spec_for
from clusters.stack import SiteSpec, SpecError, preflight, render
from clusters.stack.preflight import blocking
from clusters.stack.render import render_probe_task
from jobs.runner import JobFailed, JobRunner, register
from panel.crypto import reveal

Log = Callable[[str], object]
Step = Callable[[str], contextlib.AbstractContextManager[Any]]
Gate = Callable[[docker.DockerClient, SiteSpec], None]
CONVERGE_S = 600.0
PROBE_S = 120.0


@dataclass
class DeployResult:
    digest: str
    created: list[str]
    updated: list[str]
    healthy: list[str]


@contextlib.contextmanager
def _no_step(_: str) -> Iterator[None]:
    yield


def probe_health(client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log) -> list[str]:
    code, lines = ops.run_one_off(client, render_probe_task(spec, run_id), PROBE_S, log)
    if code != 0:
        raise ops.SwarmError("the health probe failed: " + "; ".join(lines[-5:]))
    return [line.split()[0] for line in lines if line.endswith(" healthy")]


def image_problems(client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log) -> list[str]:
    """What the pinned image lacks for the site's `--load` (image_check), read by a one-off task."""
    if not image_check.looked_for(spec):
        return []
    try:
        manifests = image_check.read_manifests(client, spec, run_id)
    except ops.SwarmError as exc:
        return [f"reading the image's addons failed: {exc}"]
    for name, text in manifests.items():
        log(f"{name}: {'in the image' if text is not None else 'not in the image'}")
    return image_check.problems(spec, manifests)


def _pinned(
    client: docker.DockerClient, spec: SiteSpec, registry_auth: tuple[str, str], log: Log
) -> SiteSpec:
    digest = ops.resolve_digest(client, spec.image, *registry_auth)
    log(f"{spec.image} is {digest}")
    return replace(spec, image_digest=digest)


def _checked(
    client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log, step: Step, gate: Gate | None
) -> Any:
    """The preflight, the image check and the gate; the rendered stack when all pass. A refusal
    raises ops.Refused: nothing has changed yet."""
    with step("Preflight"):
        problems = blocking(preflight(spec))
        for p in problems:
            log(f"preflight: {p.title}: {p.reason} Fix: {p.fix}")
        if problems:
            raise ops.Refused(f"preflight failed: {', '.join(p.title for p in problems)}")
        stack = render(spec)
    with step("Image check"):
        refused = image_problems(client, spec, run_id, log)
        if refused:
            raise ops.Refused("the image cannot serve this site: " + " ".join(refused))
        if gate is not None:
            gate(client, spec)
    return stack


def _apply(
    client: docker.DockerClient, stack: Any, roles: tuple[str, ...], result: DeployResult, **wait: Any
) -> None:
    """Apply the services of `roles` and wait until each has converged (`wait`: deadline_s, log)."""
    since = dt.datetime.now(dt.UTC)
    for role in roles:
        svc = stack.service(role)
        (result.created if ops.apply_service(client, svc) == "created" else result.updated).append(svc.name)
    for role in roles:
        ops.wait_converged(client, stack.service(role).name, since=since, **wait)


def deploy(
    client: docker.DockerClient,
    spec: SiteSpec,
    *,
    run_id: str,
    registry_auth: tuple[str, str] = ("", ""),
    log: Log = ops._quiet,
    step: Step = _no_step,
    converge_s: float = CONVERGE_S,
    resolve: bool = True,
    gate: Gate | None = None,
) -> DeployResult:
    """resolve=False keeps the digest already pinned in `spec` (reconcile, domain changes). `gate`
    judges the image's addons (raising ops.Refused) before anything changes."""
    if resolve:
        with step("Resolve image"):
            spec = _pinned(client, spec, registry_auth, log)
    elif not spec.image_digest:
        raise ops.SwarmError("the site has no pinned digest yet: deploy it first")
    stack = _checked(client, spec, run_id, log, step, gate)
    result = DeployResult(digest=spec.image_digest or "", created=[], updated=[], healthy=[])
    with step("Database and Redis"):
        if ops.ensure_network(client, stack.network):
            log(f"created network {stack.network.name}")
        _apply(client, stack, ("db", "redis"), result, deadline_s=converge_s, log=log)
    web = [stack.service(role).name for role in ("odoo", "cron")]
    existed = [name for name in web if ops.find_service(client, name) is not None]
    old_tasks = boot_check.task_ids(client, web[0]) if web[0] in existed else None
    try:
        with step("Odoo and cron"):
            _apply(client, stack, ("odoo", "cron"), result, deadline_s=converge_s, log=log)
        with step("Boot check"):
            boot_check.check(client, spec, old_tasks, run_id=run_id, log=log)
        with step("Health probe"):
            result.healthy = probe_health(client, spec, run_id, log)
            log(f"{len(result.healthy)} Odoo task(s) answer /web/health from inside {stack.network.name}")
    except ops.SwarmError as exc:
        log(f"deploy failed: {exc}")
        # Whether the new tasks never converged or converged but do not answer: back to the spec
        # that served before (a first deploy has none; its services stay for the log to explain).
        for name in existed:
            log(f"rolling {name} back to its previous spec")
            ops.rollback(client, name)
        raise
    return result


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
        "Boot check",
        "Health probe",
    ]
    resolve = True

    def _gate(self) -> Gate:
        """The approval gate on the image this deploy pins (clusters.sites.image_gate)."""

        def gate(client: docker.DockerClient, spec: SiteSpec) -> None:
            who = self.job.created_by_name or "system"
            gate_image(
                client,
                self.site,
                spec,
                run_id=f"j{self.job.pk}",
                log=self.log,
                actor=self.job.created_by,
                actor_name=who,
            )

        return gate

    def run(self) -> dict[str, Any]:
        site = self.site
        before = site.status
        _ensure_lab_filestore(site)
        set_status(site, Site.Status.DEPLOYING)
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
                    gate=self._gate() if self.resolve else None,
                )
        except ops.Refused as exc:
            set_status(site, before)  # nothing changed: the site is as it was
            self.job.result = {"refused": str(exc)}
            raise JobFailed(str(exc)) from exc
        except (ops.SwarmError, SpecError) as exc:
            set_status(site, Site.Status.DEGRADED)
            raise JobFailed(str(exc)) from exc
        except BaseException:
            set_status(site, Site.Status.DEGRADED)
            raise
        set_status(
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
    plan = ["Preflight", "Image check", "Database and Redis", "Odoo and cron", "Boot check", "Health probe"]
    resolve = False


@register
class DomainRunner(ReconcileRunner):
    """A domain added or removed: the router rule is rendered anew and applied by the same path."""

    kind = "domain"
