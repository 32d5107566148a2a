"""The reaper: ends jobs whose worker died, and undoes what they left half done.

A worker killed with SIGKILL (OOM killer, node lost, hard time limit) cannot end its job; the job
would stay `running` and hold its site forever. Beat runs `reap()` every few seconds. A running job
whose heartbeat is older than JOB_HEARTBEAT_TIMEOUT is ended:

1. claimed with compare-and-swap (running + stale heartbeat -> failed), so two reapers never both act;
2. its log completed: lines that reached the live stream but not the database are copied over;
3. the reason logged ("worker died: no heartbeat since ..."), the event audited as actor "system";
4. its compensation run (at most once, see jobs/compensation.py);
5. finished_at set last, which releases the site and tells viewers the log is complete.

The job is never re-run: a module update that died halfway must be looked at, not repeated.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from jobs.compensation import pending_retry, run_compensation
from jobs.logs import LogWriter, lines_from_entry, stream_client, stream_key
from jobs.models import ENDED_STATES, Job, JobLogLine, State, Stream
from jobs.runner import last_seq
from panel import audit

log = logging.getLogger(__name__)


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "JOB_HEARTBEAT_TIMEOUT", 30)))


def reap(*, older_than: timedelta | None = None, now: datetime | None = None) -> list[int]:
    """End every running job with a stale heartbeat; returns the ids this call ended."""
    now = now or timezone.now()
    cutoff = now - (older_than if older_than is not None else heartbeat_timeout())
    stale = Job.objects.filter(state=State.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    ended = [job_id for job_id in list(stale) if reap_one(job_id, cutoff)]
    _finish_stragglers(cutoff)
    retry_compensation()
    return ended


def retry_compensation(now: datetime | None = None) -> list[int]:
    """Run again the undo actions that failed earlier (an unreachable engine, say): a site must not
    stay at 0 replicas because its engine was away when the job ended. At most one attempt per job
    every JOB_COMPENSATION_RETRY_SECONDS, so a long outage does not flood its log. Returns the
    jobs tried."""
    now = now or timezone.now()
    every = timedelta(seconds=float(getattr(settings, "JOB_COMPENSATION_RETRY_SECONDS", 30)))
    tried = []
    for job in pending_retry().select_related("site", "cluster"):
        last = max((o.get("at", "") for o in job.compensation_result or []), default="")
        if last and datetime.fromisoformat(last) > now - every:
            continue
        writer = LogWriter(job.pk, last_seq=last_seq(job.pk))
        # The job's live stream has ended (its end marker holds the next id): these lines go to the
        # stored log only, which is where viewers of an ended job read.
        writer._stream_down_until = math.inf
        if run_compensation(job, log_line=writer.write, reason="retry"):
            tried.append(job.pk)
            if Job.objects.filter(pk=job.pk, compensated_at__isnull=False).exists():
                audit.record(
                    "job.compensate",
                    actor="system",
                    target=job,
                    job=job,
                    site=job.site,
                    cluster=job.cluster,
                    detail="retried after a failed attempt",
                )
        writer.flush()
    return tried


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
    log.warning("job %s: %s", job_id, reason)
    audit.record(
        "job.reap", actor="system", target=job, job=job, site=job.site, cluster=job.cluster, detail=reason
    )
    writer = LogWriter(job_id, last_seq=salvage(job_id))
    writer.write(f"Failed: {reason}", Stream.STDERR)
    if run_compensation(job, log_line=writer.write, reason="worker died"):
        audit.record(
            "job.compensate",
            actor="system",
            target=job,
            job=job,
            site=job.site,
            cluster=job.cluster,
            detail="after the worker died",
        )
    _steps_failed(job)
    writer.flush()
    Job.objects.filter(pk=job_id).update(finished_at=timezone.now())
    writer.close(State.FAILED)
    return True


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
            JobLogLine.objects.bulk_create(
                [
                    JobLogLine(job_id=job_id, seq=x.seq, time=x.time, stream=x.stream, text=x.text)
                    for x in lines
                ],
                ignore_conflicts=True,
            )
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
    """Jobs that ended but were never marked finished (their ender died while compensating)."""
    for job_id in Job.objects.filter(
        state__in=ENDED_STATES, finished_at__isnull=True, heartbeat_at__lt=cutoff
    ).values_list("pk", flat=True):
        if Job.objects.filter(pk=job_id, finished_at__isnull=True).update(finished_at=timezone.now()):
            state = Job.objects.values_list("state", flat=True).get(pk=job_id)
            LogWriter(job_id, last_seq=last_seq(job_id)).close(state)
