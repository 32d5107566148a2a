"""Run a job in this process exactly as a worker would (claim, runner, lifecycle), without a broker:
the lab tests check what jobs do to the Swarm; tests/jobs checks the Celery path itself."""

from typing import Any

from jobs import control, runner
from jobs.models import Job


def run_inline(monkeypatch: Any, kind: str, site: Any, **params: Any) -> Job:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)
    job = control.start(kind, site=site, params=params)
    runner.execute(job.pk)
    return Job.objects.get(pk=job.pk)


def log_text(job: Job) -> str:
    return "\n".join(job.lines.order_by("seq").values_list("text", flat=True))
