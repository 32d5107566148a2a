"""The docker side of a job that acts on a site: its cluster's engine, with engine trouble turned
into the job's failure, and the undo actions such jobs record before they change anything:
remove_service (a one-off task left behind) and restore_replicas_all (services scaled back to what
the job recorded).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker
import requests

from clusters import engine
from clusters import swarm_ops as ops
from clusters.models import Site
from jobs.compensation import compensation
from jobs.models import Job
from jobs.runner import JobFailed, JobRunner


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


def set_status(site: Site, status: str, **fields: Any) -> None:
    Site.objects.filter(pk=site.pk).update(status=status, **fields)


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


@compensation("remove_service")
def remove_one_off(job: Job, log: Any, *, service: str) -> str:
    with engine.client_for(job.cluster or job.site.cluster) as client:  # type: ignore[union-attr]
        removed = ops.remove_service(client, service)
    return f"{service} removed" if removed else f"{service} was already gone"


@compensation("restore_replicas_all")
def restore_replicas_all(job: Job, log: Any, *, services: dict[str, int]) -> str:
    """Scale each recorded service back; a one-off update task is removed by remove_service."""
    with engine.client_for(job.cluster or job.site.cluster) as client:  # type: ignore[union-attr]
        for name, replicas in services.items():
            ops.scale(client, name, replicas)
    return "restored " + ", ".join(f"{n}={r}" for n, r in services.items())
