"""Operations on a Swarm through the docker SDK, each with a deadline and a reason when it fails.

Deploys, module updates, backups and reconciles are made of these. Nothing here waits without a
deadline (the SDK never blocks on convergence, and a job that is never waited for
correctly can hang a worker forever).
"""

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from clusters.stack.render import NetworkSpec, ServiceSpec, to_create_kwargs

Log = Callable[[str], object]
POLL_S = 1.0
# Waits that sit inside a site's downtime (replicas at 0): every second of polling lag there is a
# second of downtime, and a task list filtered by service is cheap for the manager.
DOWNTIME_POLL_S = 0.25
# Task states after which a task never runs again (api/types/swarm/task.go).
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}


class Refused(Exception):
    """Refused before anything changed (preflight, the image check, the gate): the site is as it was."""


class SwarmError(Exception):
    """A step failed; the message is written for the job log and the user."""


def _quiet(_: str) -> None:
    return None


def resolve_digest(client: docker.DockerClient, image: str, username: str = "", password: str = "") -> str:
    """Ask the registry (through the engine) which digest the tag points to now.

    The SDK never resolves digests itself, and nodes fall back to a cached image when a
    pull fails, so deploying by tag can run different code on different nodes: pin the digest."""
    auth = {"username": username, "password": password} if username else None
    try:
        data = client.images.get_registry_data(image, auth_config=auth)
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


def apply_service(client: docker.DockerClient, spec: ServiceSpec) -> str:
    """Create the service, or update it to the spec; returns "created" or "updated"."""
    kwargs = to_create_kwargs(spec)
    service = find_service(client, spec.name)
    if service is None:
        client.services.create(**kwargs)
        return "created"
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


def failed_reasons(client: docker.DockerClient, name: str, image: str, limit: int = 3) -> list[str]:
    """The errors of the latest failed tasks of the current spec, and how often they failed."""
    failed = [
        t
        for t in tasks(client, name, desired=None)
        if task_image(t) == image and t.get("Status", {}).get("State") in ("failed", "rejected")
    ]
    if not failed:
        return []
    failed.sort(key=lambda t: t.get("UpdatedAt", ""), reverse=True)
    errors = list(dict.fromkeys(t["Status"].get("Err") or t["Status"].get("Message", "") for t in failed))
    return [f"{len(failed)} task(s) failed: " + "; ".join(errors[:limit])]


def replicas_of(service: Any) -> int | None:
    mode = service.attrs.get("Spec", {}).get("Mode", {})
    return mode.get("Replicated", {}).get("Replicas")


def _update_status(service: Any) -> tuple[str, str, dt.datetime | None]:
    status = service.attrs.get("UpdateStatus") or {}
    started = status.get("StartedAt")
    when = None
    if started:
        try:
            when = dt.datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
        except ValueError:
            when = None
    return status.get("State", ""), status.get("Message", ""), when


def wait_converged(
    client: docker.DockerClient,
    name: str,
    *,
    since: dt.datetime,
    deadline_s: float,
    log: Log = _quiet,
) -> None:
    """Wait until every desired replica runs the service's current image, or fail with the reason.

    `since`: when our update was sent; an UpdateStatus older than that belongs to an earlier update.
    Swarm rolls a failed start-first update back by itself (failure action rollback): that is
    reported as a failure with Swarm's own message, the old tasks keep serving."""
    end = time.monotonic() + deadline_s
    last = ""
    while True:
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
