"""The reaper: ends jobs whose worker died, and undoes what they left half done.

A worker killed with SIGKILL (OOM killer, node lost, hard time limit) cannot end its job; the job
would stay `running` and hold its site forever. Beat runs `reap()` every few seconds. A running job
whose heartbeat is older than JOB_HEARTBEAT_TIMEOUT is ended:

1. claimed with compare-and-swap (running + stale heartbeat -> failed), so two reapers never both act;
2. its log completed: lines that reached the live stream but not the database are copied over;
3. the reason logged ("worker died: no heartbeat since ..."), the event audited as actor "system";
4. its compensation run (once; a holder killed halfway is taken over, see jobs/compensation.py);
5. finished_at set last, which releases the site and tells viewers the log is complete.

The job is never re-run: a module update that died halfway must be looked at, not repeated.

A queued job can be lost too: Redis persists nothing here, so a restart drops the Celery message
and the job would hold its site as "queued" forever. A job queued longer than JOB_QUEUED_TIMEOUT
whose task the broker no longer holds is failed the same way (claimed queued -> failed, so a late
message finds nothing to run: the runner only claims a queued job).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.announce import job_ended
from jobs.broker import held_task_ids
from jobs.compensation import holder, pending_retry, run_compensation
from jobs.logs.store import LogWriter, last_seq, lines_from_entry, store, stream_client, stream_key
from jobs.models import ENDED_STATES, Job, State, Stream
from panel import audit

log = logging.getLogger(__name__)


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "JOB_HEARTBEAT_TIMEOUT", 30)))


def queued_timeout() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "JOB_QUEUED_TIMEOUT", 1800)))


def reap(*, older_than: timedelta | None = None, now: datetime | None = None) -> list[int]:
    """End every running job with a stale heartbeat, and every queued job no worker will ever pick
    up; returns the ids this call ended."""
    now = now or timezone.now()
    cutoff = now - (older_than if older_than is not None else heartbeat_timeout())
    stale = Job.objects.filter(state=State.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    ended = [job_id for job_id in list(stale) if reap_one(job_id, cutoff)]
    ended += reap_queued(now=now)
    _finish_stragglers(cutoff)
    retry_compensation(now, stale_before=cutoff)
    return ended


def retry_compensation(now: datetime | None = None, stale_before: datetime | None = None) -> list[int]:
    """Run again the undo actions still owed: some failed earlier (an unreachable engine, say), or
    their holder died halfway (its claim older than `stale_before`). A site must not stay at 0
    replicas because its engine was away when the job ended. At most one attempt per job every
    JOB_COMPENSATION_RETRY_SECONDS, so a long outage does not flood its log. Returns the jobs tried."""
    now = now or timezone.now()
    every = timedelta(seconds=float(getattr(settings, "JOB_COMPENSATION_RETRY_SECONDS", 30)))
    tried = []
    for job in pending_retry(stale_before).select_related("site", "cluster"):
        last = max((o.get("at", "") for o in job.compensation_result or []), default="")
        if last and datetime.fromisoformat(last) > now - every:
            continue
        writer = LogWriter(job.pk, last_seq=last_seq(job.pk))
        # The job's live stream has ended (its end marker holds the next id): these lines go to the
        # stored log only, which is where viewers of an ended job read.
        writer._stream_down_until = math.inf
        if run_compensation(job, log_line=writer.write, reason="retry", stale_before=stale_before):
            tried.append(job.pk)
            if Job.objects.filter(pk=job.pk, compensated_at__isnull=False).exists():
                _audit_compensated(job, _retry_detail(job))
        writer.flush()
    return tried


def _retry_detail(job: Job) -> str:
    if job.compensation_claimed_by:  # a stale claim: its holder stopped halfway
        return f"taken over from {job.compensation_claimed_by}, which stopped while compensating"
    return "retried after a failed attempt"


def reap_one(job_id: int, cutoff: datetime) -> bool:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.heartbeat_at is None:
        return False
    reason = (
        f"worker died: no heartbeat since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(worker {job.worker or '?'} pid {job.worker_pid or '?'}); not re-run"
    )
    won = Job.objects.filter(pk=job_id, state=State.RUNNING, heartbeat_at__lt=cutoff).update(
        state=State.FAILED, error=reason, heartbeat_at=timezone.now()
    )
    if won != 1:
        return False
    _end(
        job, reason, LogWriter(job_id, last_seq=salvage(job_id)), cause="the worker died", stale_before=cutoff
    )
    return True


def reap_queued(*, now: datetime | None = None, older_than: timedelta | None = None) -> list[int]:
    """End the jobs queued longer than JOB_QUEUED_TIMEOUT whose task the broker no longer holds
    (their message was lost, so no worker will ever pick them up). Returns the ids ended."""
    now = now or timezone.now()
    cutoff = now - (older_than if older_than is not None else queued_timeout())
    old = list(
        Job.objects.filter(state=State.QUEUED, created_at__lt=cutoff).values_list("pk", "celery_task_id")
    )
    if not old:
        return []
    held = held_task_ids()
    if held is None:
        return []  # the broker cannot tell: a job still waiting there must not be failed
    return [job_id for job_id, task_id in old if task_id not in held and _end_lost_queued(job_id, cutoff)]


def _end_lost_queued(job_id: int, cutoff: datetime) -> bool:
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return False
    reason = (
        f"never picked up by a worker: queued since {job.created_at:%Y-%m-%d %H:%M:%S} UTC and its task "
        f"{job.celery_task_id or '?'} is no longer in the broker (the message was lost, e.g. the broker "
        "restarted); not run, start it again"
    )
    won = Job.objects.filter(pk=job_id, state=State.QUEUED, created_at__lt=cutoff).update(
        state=State.FAILED, error=reason, heartbeat_at=timezone.now()
    )
    if won != 1:
        return False
    _end(job, reason, LogWriter(job_id, last_seq=last_seq(job_id)), cause="it was lost in the queue")
    return True


def _end(
    job: Job, reason: str, writer: LogWriter, *, cause: str, stale_before: datetime | None = None
) -> None:
    """The reaper's side of ending a job it claimed: audit, log, undo, then release the site."""
    log.warning("job %s: %s", job.pk, reason)
    audit.record(
        "job.reap", actor="system", target=job, job=job, site=job.site, cluster=job.cluster, detail=reason
    )
    writer.write(f"Failed: {reason}", Stream.STDERR)
    if run_compensation(job, log_line=writer.write, reason=cause, stale_before=stale_before):
        _audit_compensated(job, f"after {cause}")
    elif held_by := holder(job.pk):
        writer.write(f"Compensation held by {held_by}; taken over if it stops", Stream.SYSTEM)
    _steps_failed(job)
    writer.flush()
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    writer.close(State.FAILED)
    job_ended(job, State.FAILED, reason)


def _audit_compensated(job: Job, detail: str) -> None:
    audit.record(
        "job.compensate",
        actor="system",
        target=job,
        job=job,
        site=job.site,
        cluster=job.cluster,
        detail=detail,
    )


def salvage(job_id: int, client: redis.Redis | None = None) -> int:
    """Copy lines that only reached the live stream into the stored log; returns the last seq."""
    stored = last_seq(job_id)
    client = client or stream_client()
    key, cursor = stream_key(job_id), stored
    try:
        while True:
            entries = client.xrange(key, min=f"0-{cursor + 1}", count=100)
            lines = [x for i, f in entries for x in lines_from_entry(i, f) or [] if x.seq > cursor]
            if not lines:
                break
            store(job_id, lines)  # a seq stored meanwhile keeps its stored line
            cursor = lines[-1].seq
    except redis.RedisError as exc:
        log.warning("job %s: could not read the live stream to complete the log: %s", job_id, exc)
    return max(stored, cursor)


def _steps_failed(job: Job) -> None:
    steps = Job.objects.values_list("steps", flat=True).get(pk=job.pk) or []
    for step in steps:
        if step.get("state") == "running":
            step.update(state="failed", finished_at=timezone.now().isoformat())
        elif step.get("state") == "pending":
            step["state"] = "skipped"
    Job.objects.filter(pk=job.pk).update(steps=steps)


def _finish_stragglers(cutoff: datetime) -> None:
    """Jobs that ended but were never marked finished (their ender died while compensating). A
    fresh compensation claim means the ender is still at it."""
    for job_id in (
        Job.objects.filter(state__in=ENDED_STATES, finished_at__isnull=True, heartbeat_at__lt=cutoff)
        .filter(Q(compensation_claimed_at__isnull=True) | Q(compensation_claimed_at__lt=cutoff))
        .values_list("pk", flat=True)
    ):
        if Job.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now()):
            state = Job.objects.values_list("state", flat=True).get(pk=job_id)
            LogWriter(job_id, last_seq=last_seq(job_id)).close(state)
