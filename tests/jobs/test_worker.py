"""Jobs on a real Celery worker (prefork): one runs to success; one whose worker is SIGKILLed is
failed and compensated by the reaper, exactly once, well within 60 s, and never re-run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from jobs import reaper
from jobs.control import start
from jobs.models import Job, JobLogLine, State
from tests import factories
from tests.jobs.runners import compensated_count
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_a_job_runs_on_a_worker_to_success(worker):
    job = start("test.lines", params={"count": 40})
    wait_for(lambda: Job.objects.get(pk=job.pk).finished_at, 30, f"job {job.pk} to finish", every=0.1)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, job.error
    assert job.worker and job.worker_pid and job.result == {"lines": 40}
    assert JobLogLine.objects.filter(job=job, text__startswith="line ").count() == 40


def test_a_killed_worker_is_reaped_and_compensated_once_within_60s(worker):
    site = factories.site(factories.cluster())
    job = start("test.hold", site=site, params={"seconds": 120})
    wait_for(
        lambda: JobLogLine.objects.filter(job=job, text="waiting").exists(), 30, "the job to run", every=0.1
    )
    assert Job.objects.get(pk=job.pk).compensation  # recorded before the change
    worker.kill()  # SIGKILL to the whole worker: no chance to clean up
    killed_at = time.monotonic()

    results: list[list[int]] = []

    def beat() -> None:  # two reapers, as if two beat ticks overlapped
        try:
            deadline = time.monotonic() + 60
            while (
                time.monotonic() < deadline
                and not Job.objects.filter(pk=job.pk, finished_at__isnull=False).exists()
            ):
                results.append(reaper.reap(older_than=timedelta(seconds=3)))
                time.sleep(0.25)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(70)
    elapsed = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.state == State.FAILED and job.finished_at is not None, job.error
    assert job.error.startswith("worker died: no heartbeat since")
    assert elapsed < 60
    assert compensated_count(job.pk) == 1
    assert sum(r.count(job.pk) for r in results) == 1
    assert not Job.objects.blocking_site(site.pk).exists()  # the site is free again
    assert JobLogLine.objects.filter(job=job, text__startswith="Started").count() == 1  # never re-run
