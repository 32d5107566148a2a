"""Starting and cancelling jobs: what buttons, management commands and other apps call.

    from jobs.control import start
    from jobs.locks import JobAlreadyRunning

    try:
        job = start("module_update", site=site, params={"modules": ["sale"]}, request=request)
    except JobAlreadyRunning as exc:
        ...  # exc.job is the running one: link to it

The row is written first and the Celery task is enqueued only when the transaction commits, with
the job's id alone: a worker never sees a job that is not in the database, and never gets stale data
through the message.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs.compensation import run_compensation
from jobs.locks import create_exclusive
from jobs.logs.store import LogWriter, last_seq
from jobs.models import Job, State, Stream
from jobs.runner import runner_for
from panel import audit

log = logging.getLogger(__name__)


def _username(user: Any) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""


def start(
    kind: str,
    *,
    site: Any = None,
    cluster: Any = None,
    params: dict[str, Any] | None = None,
    user: Any = None,
    request: Any = None,
) -> Job:
    """Create a queued job and enqueue it on commit. Raises JobAlreadyRunning, UnknownKind."""
    runner = runner_for(kind)
    user = user if user is not None else getattr(request, "user", None)
    # One transaction for the row and its audit event; the task is sent only after both commit.
    with transaction.atomic():
        job = create_exclusive(
            {
                "kind": kind,
                "mutating": runner.mutating,
                "site": site,
                "site_slug": site.slug if site is not None else "",
                "cluster": cluster if cluster is not None else getattr(site, "cluster", None),
                "params": params or {},
                "created_by": user if _username(user) else None,
                "created_by_name": _username(user),
                "celery_task_id": str(uuid.uuid4()),
            }
        )
        # What the job will change on its site, from -> to (scale: replicas 2 -> 4).
        sets = {f: job.params[f] for f in runner.sets_site if site is not None and f in job.params}
        event = audit.record(
            "job.start",
            request=request,
            actor=user,
            target=job,
            job=job,
            site=site,
            cluster=job.cluster,
            before={f: getattr(site, f, None) for f in sets} or None,
            after={"kind": kind, "params": job.params, **sets},
        )
        if not job.created_by_name and event.actor_username:
            # Started from a command or by the system: name the same actor as the audit row
            # (cli:root, the --as user, system) rather than leave it blank.
            job.created_by_name = event.actor_username
            Job.objects.filter(pk=job.pk).update(created_by_name=job.created_by_name)
        transaction.on_commit(lambda: enqueue(job.pk, job.celery_task_id))
    return job


def enqueue(job_id: int, task_id: str) -> None:
    """Send the id to a worker. If the broker is down the job fails now instead of holding its site."""
    from jobs.tasks import run_job

    try:
        run_job.apply_async(args=(job_id,), task_id=task_id)
    except Exception as exc:
        log.exception("job %s could not be enqueued", job_id)
        reason = f"could not be sent to a worker: {type(exc).__name__}: {exc}"
        failed = Job.objects.filter(pk=job_id, state=State.QUEUED).update(
            state=State.FAILED, error=reason, heartbeat_at=timezone.now()
        )
        if failed:
            _close(job_id, State.FAILED, reason)


def cancel(job: Job, *, user: Any = None, request: Any = None, actor: Any = None) -> str:
    """Cancel a job: "cancelled" (it had not started), "requested" (the runner stops at its next
    check and compensates), or "" (it had already ended, or a cancel was already requested)."""
    user = user if user is not None else getattr(request, "user", None)
    name = _username(user) or (actor if isinstance(actor, str) else "")
    now = timezone.now()
    outcome = ""
    if Job.objects.filter(pk=job.pk, state=State.QUEUED).update(
        state=State.CANCELLED,
        cancel_requested_at=now,
        cancelled_by_name=name,
        heartbeat_at=now,
        error=f"Cancelled{f' by {name}' if name else ''} before it started.",
    ):
        _close(job.pk, State.CANCELLED, f"Cancelled{f' by {name}' if name else ''} before it started.")
        outcome = "cancelled"
    elif Job.objects.filter(pk=job.pk, state=State.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now, cancelled_by_name=name
    ):
        outcome = "requested"
    if outcome:
        audit.record(
            "job.cancel",
            request=request,
            actor=actor or user,
            target=job,
            job=job,
            site=job.site,
            cluster=job.cluster,
            detail=outcome,
        )
    return outcome


def _close(job_id: int, state: str, message: str) -> None:
    """End a job that no runner holds: log why, compensate, then mark it finished."""
    writer = LogWriter(job_id, last_seq=last_seq(job_id))
    writer.write(message, Stream.SYSTEM)
    job = Job.objects.get(pk=job_id)
    run_compensation(job, log_line=writer.write, reason=state)
    writer.flush()
    Job.objects.filter(pk=job_id).update(finished_at=timezone.now())
    writer.close(state)
