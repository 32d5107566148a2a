"""The docker side of a job that acts on a site (its engine: clusters/job_client.py), and the undo
actions such jobs record before they change anything:
remove_service (a one-off task left behind) and restore_replicas_all (services scaled back to what
the job recorded).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from clusters import engine
from clusters import swarm_ops as ops
from clusters.models import Site
from jobs.compensation import compensation
from jobs.models import Job
from jobs.runner import JobRunner


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
