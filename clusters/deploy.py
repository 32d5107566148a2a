"""The deploy sequence: a site rendered, pinned by digest, converged, probed, rolled back on failure.

    resolve digest -> preflight -> network -> db, redis (wait) -> odoo, cron (start-first, wait)
    -> health probe from inside the site's network -> done, or roll back odoo with the reason

Written against two callables so that it runs inside a job (the job's log and steps) and in tests.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import docker

from clusters import image_check
from clusters import swarm_ops as ops
from clusters.stack import SiteSpec, preflight, render
from clusters.stack.preflight import blocking
from clusters.stack.render import ServiceSpec, render_probe_task

Log = Callable[[str], object]
Step = Callable[[str], contextlib.AbstractContextManager[Any]]
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


def run_one_off(
    client: docker.DockerClient, task: ServiceSpec, deadline_s: float, log: Log
) -> tuple[int, list[str]]:
    """Run a one-off service to its end, log its output, remove it whatever happened."""
    ops.remove_service(client, task.name)
    ops.apply_service(client, task)
    try:
        state, code, message = ops.wait_one_off(client, task.name, deadline_s)
        lines = ops.service_logs(client, task.name)
        for line in lines:
            log(line)
        if code is None:
            raise ops.SwarmError(f"{task.name} ended {state} without an exit code: {message}")
        return int(code), lines
    finally:
        ops.remove_service(client, task.name)


def probe_health(client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log) -> list[str]:
    code, lines = run_one_off(client, render_probe_task(spec, run_id), PROBE_S, log)
    if code != 0:
        raise ops.SwarmError("the health probe failed: " + "; ".join(lines[-5:]))
    return [line.split()[0] for line in lines if line.endswith(" healthy")]


def image_problems(client: docker.DockerClient, spec: SiteSpec, run_id: str, log: Log) -> list[str]:
    """What the pinned image lacks for the site's `--load` (clusters/image_check.py), read by a one-off."""
    if not image_check.looked_for(spec):
        return []
    code, lines = run_one_off(
        client, image_check.render_manifest_task(spec, run_id), image_check.DEADLINE_S, ops._quiet
    )
    if code != 0:
        return [f"reading the image's addons failed (exit {code}): {' '.join(lines[-3:])}"]
    manifests = image_check.parse_output(lines)
    for name, text in manifests.items():
        log(f"{name}: {'in the image' if text is not None else 'not in the image'}")
    return image_check.problems(spec, manifests)


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
) -> DeployResult:
    """resolve=False keeps the digest already pinned in `spec` (reconcile, domain changes)."""
    if resolve:
        with step("Resolve image"):
            digest = ops.resolve_digest(client, spec.image, *registry_auth)
            log(f"{spec.image} is {digest}")
            spec = replace(spec, image_digest=digest)
    elif not spec.image_digest:
        raise ops.SwarmError("the site has no pinned digest yet: deploy it first")
    else:
        digest = spec.image_digest
    with step("Preflight"):
        problems = blocking(preflight(spec))
        for p in problems:
            log(f"preflight: {p.title}: {p.reason} Fix: {p.fix}")
        if problems:
            raise ops.SwarmError(f"preflight failed: {', '.join(p.title for p in problems)}")
        stack = render(spec)
    with step("Image check"):
        refused = image_problems(client, spec, run_id, log)
        if refused:
            raise ops.SwarmError("the image cannot serve this site: " + " ".join(refused))
    created: list[str] = []
    updated: list[str] = []
    since = dt.datetime.now(dt.UTC)
    with step("Database and Redis"):
        if ops.ensure_network(client, stack.network):
            log(f"created network {stack.network.name}")
        for role in ("db", "redis"):
            svc = stack.service(role)
            (created if ops.apply_service(client, svc) == "created" else updated).append(svc.name)
        for role in ("db", "redis"):
            ops.wait_converged(client, stack.service(role).name, since=since, deadline_s=converge_s, log=log)
    web = [stack.service(role).name for role in ("odoo", "cron")]
    existed = [name for name in web if ops.find_service(client, name) is not None]
    try:
        with step("Odoo and cron"):
            since = dt.datetime.now(dt.UTC)
            for role in ("odoo", "cron"):
                svc = stack.service(role)
                (created if ops.apply_service(client, svc) == "created" else updated).append(svc.name)
            for name in web:
                ops.wait_converged(client, name, since=since, deadline_s=converge_s, log=log)
        with step("Health probe"):
            healthy = probe_health(client, spec, run_id, log)
            log(f"{len(healthy)} Odoo task(s) answer /web/health from inside {stack.network.name}")
    except ops.SwarmError as exc:
        log(f"deploy failed: {exc}")
        # Whether the new tasks never converged or converged but do not answer: back to the spec
        # that served before (a first deploy has none; its services stay for the log to explain).
        for name in existed:
            log(f"rolling {name} back to its previous spec")
            ops.rollback(client, name)
        raise
    return DeployResult(digest=digest, created=created, updated=updated, healthy=healthy)
