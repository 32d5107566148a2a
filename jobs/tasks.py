"""Celery tasks: the job runner entry point and the reaper (on beat).

`run_job` gets a job id only; everything else is read from the row. Acknowledged on receipt
(acks_late off, see settings): a worker that dies mid-job does not get the job redelivered, the
reaper ends it instead.
"""

from celery import shared_task

from jobs import reaper, runner


@shared_task(name="jobs.run", ignore_result=True, acks_late=False)
def run_job(job_id: int) -> str | None:
    return runner.execute(job_id)


@shared_task(name="jobs.reap", ignore_result=True, soft_time_limit=300, time_limit=330)
def reap_jobs() -> list[int]:
    return reaper.reap()
