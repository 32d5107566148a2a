"""A job's end, told to the notification channels that want it (job.failed, job.succeeded, and
backup.failed and drill.failed). Called where a job's final state is written: its runner, or the reaper."""

from __future__ import annotations

from jobs.models import Job, State
from panel import notify

FAILURE_EVENTS = {"backup": "backup.failed", "drill": "drill.failed"}  # a job kind's own failure notice


def job_ended(job: Job, state: str, error: str = "") -> None:
    """Never raises and costs the job two short queries (panel.notify.emit)."""
    if state not in (State.FAILED, State.SUCCEEDED):
        return
    payload = {
        "job_id": job.pk,
        "kind": job.kind,
        "state": state,
        "error": (error or "")[:1000],
        "url": job.get_absolute_url(),
    }
    site = job.site if job.site_id else None
    cluster = job.cluster if job.cluster_id else None
    notify.emit(f"job.{state}", site=site, cluster=cluster, payload=payload, subject=job.pk)
    if state == State.FAILED and job.kind in FAILURE_EVENTS:
        notify.emit(FAILURE_EVENTS[job.kind], site=site, cluster=cluster, payload=payload, subject=job.pk)
