"""Operations on a Swarm through the docker SDK, each with a deadline and a reason when it fails.

Deploys, module updates, backups and reconciles are made of these. Nothing here waits without a
deadline (the SDK never blocks on convergence, and a job that is never waited for
correctly can hang a worker forever).
"""

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from clusters import swarm_secrets
from clusters.stack.render import NetworkSpec, ServiceSpec, to_create_kwargs
from clusters.stack.service_spec import engine_spec
from clusters.stack.unchanged import changed_fields

Log = Callable[[str], object]
POLL_S = 1.0
# Waits that sit inside a site's downtime (replicas at 0): every second of polling lag there is a
# second of downtime, and a task list filtered by service is cheap for the manager.
DOWNTIME_POLL_S = 0.25
# Task states after which a task never runs again (api/types/swarm/task.go).
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}
# A log line that says what went wrong: Odoo's ERROR/CRITICAL lines, an exception's last line.
# An Odoo ERROR/CRITICAL line, or a traceback's last line (`psycopg2.OperationalError: ...`).
ERROR_LINE = re.compile(r" (?:ERROR|CRITICAL) |^[\w.]*(?:Error|Exception)(?::|$)")
# A wait knows its outcome once each wanted replica of the new spec ended this often without serving,
# and not before EARLY_END_S: a task new to a node's overlay may fail to reach the database for
# 10-20 s and exit (the cron does), and Swarm starts it again 5 s later; that is no outcome yet.
ENDED_PER_REPLICA = 4
EARLY_END_S = 60.0


class Refused(Exception):
    """Refused before anything changed (preflight, the image check, the gate): the site is as it was."""


class SwarmError(Exception):
    """A step failed; the message is written for the job log and the user."""


def _quiet(_: str) -> None:
    return None


def resolve_digest(client: docker.DockerClient, image: str, auth: tuple[str, str] | None = None) -> str:
    """Ask the registry (through the engine) which digest the tag points to now.

    The SDK never resolves digests itself, and nodes fall back to a cached image when a
    pull fails, so deploying by tag can run different code on different nodes: pin the digest.
    `auth` (username, password) comes from clusters.sites.registry_auth.registry_auth_for, which gives
    a site's credentials only for an image on the registry they were entered for."""
    auth_config = {"username": auth[0], "password": auth[1]} if auth and auth[0] else None
    try:
        data = client.images.get_registry_data(image, auth_config=auth_config)
    except (APIError, ImageNotFound) as exc:
        reason = getattr(exc, "explanation", None) or str(exc)
        raise SwarmError(f"the image {image} cannot be resolved at its registry: {reason}") from exc
    digest = str(data.id)
    if not digest.startswith("sha256:"):
        raise SwarmError(f"the registry gave no digest for {image}")
    return digest


def ensure_network(client: docker.DockerClient, network: NetworkSpec) -> bool:
    """Create the site's overlay network if it is missing; True when it was created."""
    if client.networks.list(names=[network.name]):
        return False
    client.networks.create(**network.to_create_kwargs())
    return True


def find_service(client: docker.DockerClient, name: str) -> Any | None:
    try:
        return client.services.get(name)
    except NotFound:
        return None


def apply_service(client: docker.DockerClient, spec: ServiceSpec, log: Log = _quiet) -> str:
    """Create the service, update it to the spec, or leave it alone when it is the spec already
    (clusters/stack/unchanged.py); returns "created", "updated" or "unchanged". The secrets it reads
    are made first (clusters/swarm_secrets.py)."""
    spec = swarm_secrets.resolved(client, spec, log)
    kwargs = to_create_kwargs(spec)
    service = find_service(client, spec.name)
    if service is None:
        client.services.create(**kwargs)
        return "created"
    live = service.attrs.get("Spec") or {}
    try:
        changed = changed_fields(engine_spec(spec), live, lambda n: str(client.networks.get(n).id))
    except NotFound:  # a network the spec names does not exist: the update will say so
        changed = ["networks"]
    if not changed:
        return "unchanged"
    log(f"{spec.name}: updating {', '.join(changed[:6])}" + (" ..." if len(changed) > 6 else ""))
    kwargs.pop("name")
    service.update(**kwargs)
    return "updated"


def remove_service(client: docker.DockerClient, name: str) -> bool:
    service = find_service(client, name)
    if service is None:
        return False
    try:
        service.remove()
    except NotFound:
        return False
    return True


def tasks(client: docker.DockerClient, name: str, desired: str | None = "running") -> list[dict]:
    filters = {"service": name}
    if desired:
        filters["desired-state"] = desired
    return list(client.api.tasks(filters=filters))


def task_image(task: dict) -> str:
    return str(task.get("Spec", {}).get("ContainerSpec", {}).get("Image", ""))


def pending_reasons(client: docker.DockerClient, name: str) -> list[str]:
    """Why tasks that should run do not (e.g. "no suitable node (scheduling constraints not satisfied
    on 3 nodes)" when the database's node is drained: the database is never moved)."""
    reasons = []
    for task in tasks(client, name):
        status = task.get("Status", {})
        if status.get("State") != "running":
            text = status.get("Err") or status.get("Message") or status.get("State")
            reasons.append(f"{status.get('State')}: {text}")
    return sorted(set(reasons))


def _when(stamp: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None


def ended_tasks(
    client: docker.DockerClient, name: str, image: str, since: dt.datetime | None = None
) -> list[dict]:
    """Tasks of the current spec that ended, whatever their state: failed, rejected, and also
    `complete` (Odoo exits 0 on SIGTERM: a replica Swarm stopped as unhealthy ends complete)."""
    found = []
    for task in tasks(client, name, desired=None):
        state = task.get("Status", {}).get("State")
        if task_image(task) != image or state not in ENDED or state == "remove":
            continue
        when = _when(task.get("UpdatedAt", ""))
        if since is None or (when is not None and when >= since):
            found.append(task)
    return found


def _task_reason(task: dict) -> str:
    status = task.get("Status", {})
    code = status.get("ContainerStatus", {}).get("ExitCode")
    text = status.get("Err") or status.get("Message", "")
    return f"{status.get('State')}" + (f" (exit {code})" if code is not None else "") + f": {text}"


def failed_reasons(
    client: docker.DockerClient, name: str, image: str, limit: int = 3, since: dt.datetime | None = None
) -> list[str]:
    """Why the tasks of the current spec ended (latest first), and how many ended."""
    ended = ended_tasks(client, name, image, since)
    if not ended:
        return []
    ended.sort(key=lambda t: t.get("UpdatedAt", ""), reverse=True)
    errors = list(dict.fromkeys(_task_reason(t) for t in ended))
    return [f"{len(ended)} task(s) ended: " + "; ".join(errors[:limit])]


def error_lines(lines: list[str], limit: int = 2) -> list[str]:
    """The last lines that name an error (a traceback's last line, an ERROR or CRITICAL line)."""
    found = [line for line in lines if ERROR_LINE.search(line)]
    return [line.strip()[:300] for line in found[-limit:]]


def last_errors(client: docker.DockerClient, name: str, limit: int = 2) -> list[str]:
    """The service's last log lines that name an error, else its last lines: a task that ended
    without a word of why leaves ops guessing."""
    lines = [line for line in service_logs(client, name)[-400:] if line.strip()]
    return error_lines(lines, limit) or [line.strip()[:300] for line in lines[-limit:]]


def replicas_of(service: Any) -> int | None:
    mode = service.attrs.get("Spec", {}).get("Mode", {})
    return mode.get("Replicated", {}).get("Replicas")


def _update_status(service: Any) -> tuple[str, str, dt.datetime | None]:
    status = service.attrs.get("UpdateStatus") or {}
    started = status.get("StartedAt")
    return status.get("State", ""), status.get("Message", ""), _when(started) if started else None


def wait_converged(
    client: docker.DockerClient,
    name: str,
    *,
    since: dt.datetime,
    deadline_s: float,
    log: Log = _quiet,
    stop: Callable[[], object] | None = None,
) -> None:
    """Wait until every desired replica runs the service's current image, or fail with the reason.

    `since`: when our update was sent; an UpdateStatus older than that belongs to an earlier update.
    Swarm rolls a failed start-first update back by itself (failure action rollback): that is
    reported as a failure with Swarm's own message, the old tasks keep serving. The wait ends as
    soon as the outcome is known: once the new spec's tasks have ended ENDED_PER_REPLICA times per
    replica, EARLY_END_S after the update at the soonest (a new service has no update to roll back,
    its tasks would restart until the deadline), with their states and the service's last error
    lines. `stop` is called on every poll and may raise (a job's Cancel ends the wait)."""
    end = time.monotonic() + deadline_s
    last = ""
    while True:
        if stop is not None:
            stop()
        service = find_service(client, name)
        if service is None:
            raise SwarmError(f"{name} disappeared while waiting for it")
        want = replicas_of(service)
        image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        state, message, started = _update_status(service)
        fresh = started is not None and started >= since - dt.timedelta(seconds=5)
        if fresh and state in ("rollback_started", "rollback_completed", "rollback_paused", "paused"):
            if state == "rollback_started":
                log(f"{name}: Swarm is rolling back: {message}")
            else:
                raise SwarmError(f"{name}: the update failed and Swarm {state.replace('_', ' ')}: {message}")
        running = [t for t in tasks(client, name) if t.get("Status", {}).get("State") == "running"]
        current = [t for t in running if task_image(t) == image]
        updating = fresh and state in ("updating", "rollback_started")
        progress = f"{name}: {len(current)}/{want} running the new spec" + (
            f", update {state}" if state else ""
        )
        if progress != last:
            log(progress)
            last = progress
        if want is not None and len(current) == want and len(running) == want and not updating:
            return
        ended = ended_tasks(client, name, image, since - dt.timedelta(seconds=5))
        waited = (dt.datetime.now(dt.UTC) - since).total_seconds()
        if want and not current and waited >= EARLY_END_S and len(ended) >= ENDED_PER_REPLICA * want:
            raise SwarmError(
                f"{name}: the new spec's tasks ended {len(ended)} times without serving: "
                + "; ".join(failed_reasons(client, name, image, since=since) + last_errors(client, name))
            )
        if time.monotonic() > end:
            reasons = pending_reasons(client, name) + failed_reasons(client, name, image)
            raise SwarmError(
                f"{name} did not converge within {deadline_s:.0f} s: "
                + ("; ".join(reasons) or "tasks did not become healthy")
            )
        time.sleep(POLL_S)


def rollback(client: docker.DockerClient, name: str) -> None:
    """`docker service rollback`: back to the previous spec. The SDK has no call for it, so this
    posts the engine's own update endpoint with rollback=previous (API >= 1.28)."""
    service = find_service(client, name)
    if service is None or not service.attrs.get("PreviousSpec"):
        return
    if _update_status(service)[0].startswith("rollback"):
        return  # Swarm rolled back by itself (failure action): once more would roll forward
    api = client.api
    url = api._url("/services/{0}/update", service.id)
    params = {"version": service.attrs["Version"]["Index"], "rollback": "previous"}
    response = api._post_json(url, data=service.attrs["Spec"], params=params)
    api._raise_for_status(response)


def scale(client: docker.DockerClient, name: str, replicas: int) -> None:
    service = find_service(client, name)
    if service is None:
        raise SwarmError(f"{name} does not exist")
    service.reload()
    if replicas_of(service) != replicas:
        service.scale(replicas)


def wait_stopped(client: docker.DockerClient, name: str, deadline_s: float) -> None:
    """Wait until no task of `name` runs (after scaling to 0)."""
    end = time.monotonic() + deadline_s
    while True:
        alive = [
            t for t in tasks(client, name, desired=None) if t.get("Status", {}).get("State") not in ENDED
        ]
        if not alive:
            return
        if time.monotonic() > end:
            raise SwarmError(f"{name} still has {len(alive)} task(s) running after {deadline_s:.0f} s")
        time.sleep(DOWNTIME_POLL_S)


def wait_one_off(client: docker.DockerClient, name: str, deadline_s: float) -> tuple[str, int | None, str]:
    """Wait for a one-off job service's task to end; (state, exit code, message)."""
    end = time.monotonic() + deadline_s
    while True:
        found = tasks(client, name, desired=None)
        for task in found:
            status = task.get("Status", {})
            if status.get("State") in ENDED:
                code = status.get("ContainerStatus", {}).get("ExitCode")
                return status.get("State", ""), code, status.get("Err") or status.get("Message", "")
        if time.monotonic() > end:
            raise SwarmError(f"the one-off task {name} did not finish within {deadline_s:.0f} s")
        time.sleep(DOWNTIME_POLL_S)


def service_logs(client: docker.DockerClient, name: str) -> list[str]:
    service = find_service(client, name)
    if service is None:
        return []
    raw = service.logs(stdout=True, stderr=True, timestamps=False)
    data = b"".join(raw) if not isinstance(raw, bytes | str) else raw
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.splitlines()


def run_one_off(
    client: docker.DockerClient, task: ServiceSpec, deadline_s: float, log: Callable[[str], object]
) -> tuple[int, list[str]]:
    """Run a one-off service to its end, log its output, remove it whatever happened."""
    remove_service(client, task.name)
    apply_service(client, task)
    try:
        state, code, message = wait_one_off(client, task.name, deadline_s)
        lines = service_logs(client, task.name)
        for line in lines:
            log(line)
        if code is None:
            raise SwarmError(f"{task.name} ended {state} without an exit code: {message}")
        return int(code), lines
    finally:
        remove_service(client, task.name)
