"""The deploy sequence: a site rendered, pinned by digest, converged, probed, rolled back on failure.

    resolve digest -> preflight -> image check (its addons, its user and series) and gate
    (refused: nothing changed) -> network -> db, redis (wait) -> initialise database (filestore
    owner, a new database initialised or an existing one adopted: db_init) -> odoo, cron
    (start-first, wait) -> boot check (each new replica's registry load: no module skipped) ->
    health probe from inside the site's network -> done, or roll back odoo and cron with the reason

Written against two callables so that it runs inside a job (the job's log and steps) and in tests.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters import swarm_secrets
from clusters.edge import fallbacks
from clusters.job_client import job_client
from clusters.models import Site
from clusters.sites import boot_check, db_init, image_check
from clusters.sites.client import set_status
from clusters.sites.db_init import DatabasePrep, InitSettings
from clusters.sites.image_check import ImageIdentity
from clusters.sites.image_gate import gate_image
from clusters.sites.registry_auth import credentials_mismatch, registry_auth_for
from clusters.sites.site_spec import spec_for
from clusters.stack import SiteSpec, SpecError, preflight, render
from clusters.stack.preflight import blocking
from clusters.stack.render import render_probe_task
from jobs.runner import JobCancelled, JobFailed, JobRunner, register
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
    unchanged: list[str] = field(default_factory=list)
    identity: ImageIdentity | None = None
    database: str = ""  # adopted | initialised; "" when the step had nothing to do


@contextlib.contextmanager
def _no_step(_: str) -> Iterator[None]:
    yield


def probe_health(client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log) -> list[str]:
    code, lines = ops.run_one_off(client, render_probe_task(spec, run_id), PROBE_S, log)
    if code != 0:
        raise ops.SwarmError("the health probe failed: " + "; ".join(lines[-5:]))
    return [line.split()[0] for line in lines if line.endswith(" healthy")]


def image_problems(
    client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log
) -> tuple[list[str], ImageIdentity | None]:
    """What the pinned image lacks for the site (image_check): the `--load` addons and the site's
    series; and who it runs as. Read by one one-off task."""
    try:
        read = image_check.read_image(client, spec, run_id)
    except ops.SwarmError as exc:
        return [f"reading the image failed: {exc}"], None
    for name, text in read.manifests.items():
        log(f"{name}: {'in the image' if text is not None else 'not in the image'}")
    if read.identity is not None:
        ident = read.identity
        log(f"the image runs as uid {ident.uid}:{ident.gid}; odoo --version: {ident.version or 'no answer'}")
    problems = image_check.problems(spec, read.manifests)
    if series := image_check.series_problem(spec, read.identity):
        problems.append(series)
    return problems, read.identity


def _pinned(
    client: docker.DockerClient, spec: SiteSpec, registry_auth: tuple[str, str] | None, log: Log
) -> SiteSpec:
    digest = ops.resolve_digest(client, spec.image, registry_auth)
    log(f"{spec.image} is {digest}")
    return replace(spec, image_digest=digest)


def _checked(
    client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log, step: Step, gate: Gate | None
) -> tuple[Any, ImageIdentity | None]:
    """The preflight, the image check and the gate; the rendered stack and the image's identity when
    all pass. A refusal raises ops.Refused: nothing has changed yet."""
    with step("Preflight"):
        problems = blocking(preflight(spec))
        for p in problems:
            log(f"preflight: {p.title}: {p.reason} Fix: {p.fix}")
        if problems:
            raise ops.Refused(f"preflight failed: {', '.join(p.title for p in problems)}")
        stack = render(spec)
    with step("Image check"):
        refused, identity = image_problems(client, spec, run_id, log)
        if refused:
            raise ops.Refused("the image cannot serve this site: " + " ".join(refused))
        if gate is not None:
            gate(client, spec)
    return stack, identity


def _apply(
    client: docker.DockerClient, stack: Any, roles: tuple[str, ...], result: DeployResult, **wait: Any
) -> None:
    """Apply the services of `roles` and wait until each has converged (`wait`: deadline_s, log)."""
    since = dt.datetime.now(dt.UTC)
    for role in roles:
        svc = stack.service(role)
        outcome = ops.apply_service(client, svc, wait["log"])
        {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}[outcome].append(
            svc.name
        )
        if outcome == "unchanged":
            wait["log"](f"{svc.name}: unchanged, left alone")
    for role in roles:
        ops.wait_converged(client, stack.service(role).name, since=since, **wait)


def _prune_secrets(client: docker.DockerClient, spec: SiteSpec, stack: Any, log: Log) -> None:
    """The site's secrets its services no longer read (a changed value is a new secret); only after a
    deploy that served, so that a rollback's spec still finds its secrets."""
    keep = {f.name for svc in stack.services.values() for f in svc.secret_files}
    for name in swarm_secrets.prune_site(client, spec.slug, keep):
        log(f"secret {name} removed: no service reads it any more")


def deploy(
    client: docker.DockerClient,
    spec: SiteSpec,
    *,
    run_id: str,
    registry_auth: tuple[str, str] | None = None,
    log: Log = ops._quiet,
    step: Step = _no_step,
    converge_s: float = CONVERGE_S,
    resolve: bool = True,
    gate: Gate | None = None,
    prepare: DatabasePrep | None = None,
    stop: Callable[[], object] | None = None,
) -> DeployResult:
    """resolve=False keeps the digest already pinned in `spec` (reconcile, domain changes). `gate`
    judges the image's addons (raising ops.Refused) before anything changes. `prepare` None skips
    the database step (tests of other steps). `stop` is called while waiting and may raise (Cancel)."""
    if resolve:
        with step("Resolve image"):
            spec = _pinned(client, spec, registry_auth, log)
    elif not spec.image_digest:
        raise ops.SwarmError("the site has no pinned digest yet: deploy it first")
    stack, identity = _checked(client, spec, run_id, log, step, gate)
    result = DeployResult(spec.image_digest or "", created=[], updated=[], healthy=[], identity=identity)
    with step("Database and Redis"):
        if ops.ensure_network(client, stack.network):
            log(f"created network {stack.network.name}")
        _apply(client, stack, ("db", "redis"), result, deadline_s=converge_s, log=log, stop=stop)
    if prepare is not None:
        with step("Initialise database"):
            result.database = db_init.prepare_database(client, spec, identity, run_id, log, prepare)
    web = [stack.service(role).name for role in ("odoo", "cron")]
    existed = [name for name in web if ops.find_service(client, name) is not None]
    old_tasks = boot_check.task_ids(client, web[0]) if web[0] in existed else None
    try:
        with step("Odoo and cron"):
            try:
                _apply(client, stack, ("odoo", "cron"), result, deadline_s=converge_s, log=log, stop=stop)
            except ops.SwarmError as exc:
                why = _explained(client, spec, old_tasks, run_id, log)
                if why is None:
                    raise
                raise ops.SwarmError(f"{why} ({exc})") from exc
        with step("Boot check"):
            boot_check.check(client, spec, old_tasks, run_id=run_id, log=log)
        with step("Health probe"):
            result.healthy = probe_health(client, spec, run_id, log)
            log(f"{len(result.healthy)} Odoo task(s) answer /web/health from inside {stack.network.name}")
    except (ops.SwarmError, JobCancelled) as exc:
        log(f"deploy {'cancelled' if isinstance(exc, JobCancelled) else 'failed'}: {exc}")
        # Whether the new tasks never converged or converged but do not answer: back to the spec
        # that served before (a first deploy has none; its services stay for the log to explain).
        _roll_back(client, stack, existed, result, log)
        raise
    _prune_secrets(client, spec, stack, log)
    return result


def _roll_back(
    client: docker.DockerClient, stack: Any, existed: list[str], result: DeployResult, log: Log
) -> None:
    """Odoo and cron back to the spec that served, and Redis too when this deploy changed it: the
    old Odoo tasks speak to the Redis they served with (a password added now would lock them out)."""
    redis = stack.service("redis").name
    for name in [*existed, *([redis] if redis in result.updated else [])]:
        log(f"rolling {name} back to its previous spec")
        ops.rollback(client, name)


def _explained(
    client: docker.DockerClient, spec: SiteSpec, old_tasks: set[str] | None, run_id: str, log: Log
) -> str | None:
    """Why Swarm ended the rollout, from its new tasks' logs; None when they cannot tell, or cannot be
    read: the failure then stands as Swarm said it, and the rollback still runs."""
    try:
        return boot_check.explain_ended_rollout(client, spec, old_tasks, run_id=run_id, log=log)
    except Exception as exc:  # noqa: BLE001 - an engine error here must not skip the rollback
        log(f"the new tasks' logs could not be read: {exc}")
        return None


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
        "Initialise database",
        "Odoo and cron",
        "Boot check",
        "Health probe",
    ]
    resolve = True

    def _stop_if_cancelled(self) -> None:
        """A Cancel pressed while the deploy waits on Swarm ends the wait (and rolls back)."""
        if self.cancelled:
            raise JobCancelled("cancelled on request")

    def _prepare(self) -> DatabasePrep:
        """The database step from the site's row; what it learns is saved at once."""
        site = self.site
        owner = site.image_facts.get("filestore_owner")

        def record(what: str, value: Any) -> None:
            if what == "database":
                origin = Site.DatabaseOrigin.PANEL if value == "initialised" else Site.DatabaseOrigin.EXISTING
                Site.objects.filter(pk=site.pk).update(database_origin=origin)
                site.database_origin = origin
            elif what == "filestore_owner":
                facts = {**site.image_facts, "filestore_owner": list(value)}
                Site.objects.filter(pk=site.pk).update(image_facts=facts)
                site.image_facts = facts

        init = None
        if not site.database_origin:
            init = InitSettings(
                admin_password=reveal(site.admin_password),
                language=site.language,
                country=site.country,
                with_demo=site.with_demo,
            )
        return DatabasePrep(init=init, filestore_owner=tuple(owner) if owner else None, record=record)

    def _registry_auth(self, spec: SiteSpec) -> tuple[str, str] | None:
        """The site's credentials for the image this deploy resolves, when they were entered for its
        registry; otherwise none are sent and the log says why."""
        if self.resolve and (mismatch := credentials_mismatch(self.site, spec.image)):
            self.log(mismatch)
        return registry_auth_for(self.site, spec.image)

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
            with job_client(self) as client:
                # Its domains answer the maintenance page (not 404) until a replica serves.
                fallbacks.refresh(client, site.cluster, self.log)
                result = deploy(
                    client,
                    spec,
                    run_id=f"j{self.job.pk}",
                    registry_auth=self._registry_auth(spec),
                    log=self.log,
                    step=self.step,
                    resolve=self.resolve,
                    gate=self._gate() if self.resolve else None,
                    prepare=self._prepare(),
                    stop=self._stop_if_cancelled,
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
        fallbacks.wait_routed(site, len(result.healthy), self.log)
        identity = result.identity
        facts = dict(site.image_facts)
        if identity is not None:
            facts.update(uid=identity.uid, gid=identity.gid, version=identity.version)  # of image_digest
        set_status(
            site,
            Site.Status.HEALTHY,
            image_digest=result.digest,
            running_replicas=len(result.healthy),
            drift=[],
            pending={},
            image_facts=facts,
        )
        return {
            "digest": result.digest,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "healthy_tasks": len(result.healthy),
            "database": result.database or site.get_database_origin_display(),
        }


@register
class ReconcileRunner(DeployRunner):
    """Put the live services back to what the site should be, on the digest already pinned
    (drift repair must not pull in a new image behind the operator's back)."""

    kind = "reconcile"
    plan = DeployRunner.plan[1:]  # all but "Resolve image"
    resolve = False


@register
class DomainRunner(ReconcileRunner):
    """A domain added or removed: the router rule is rendered anew and applied by the same path."""

    kind = "domain"
