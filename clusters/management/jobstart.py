"""Starting a job from a command, as its button does, and with --wait following its log to the end:
exit 0 when it succeeded, 1 when it failed, 2 when it was refused (by a lock or by the job itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, OutputWrapper

from jobs import control
from jobs.locks import JobAlreadyRunning
from jobs.logs import read as logread
from jobs.models import Job, State
from panel.cli import REFUSED, acting_user


def start_job(
    out: OutputWrapper,
    kind: str,
    wait: bool,
    *,
    what: str,
    site: Any = None,
    cluster: Any = None,
    show: Callable[[Job], object] | None = None,
    **params: Any,
) -> Job:
    """`show`: called with the job once it is started (no --wait) or ended, before the exit code is
    decided (e.g. to print its result as JSON on a failure too)."""
    try:
        job = control.start(kind, site=site, cluster=cluster, params=params, user=acting_user())
    except JobAlreadyRunning as exc:
        raise CommandError(str(exc), returncode=REFUSED) from exc
    out.write(f"job {job.pk} ({kind}) started for {what}")
    if not wait:
        if show is not None:
            show(job)
        return job
    for line in logread.follow(job.pk):
        out.write(f"{line.time:%H:%M:%S} {line.text}")
        out.flush()
    job = Job.objects.get(pk=job.pk)
    if show is not None:
        show(job)
    if job.state != State.SUCCEEDED:
        refused = isinstance(job.result, dict) and job.result.get("refused")
        raise CommandError(f"job {job.pk} {job.state}: {job.error}", returncode=REFUSED if refused else 1)
    out.write(f"job {job.pk} succeeded")
    return job
