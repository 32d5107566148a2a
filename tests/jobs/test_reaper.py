"""The reaper: a job whose worker died is failed with the reason and compensated exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import reaper
from jobs.logs import LogWriter
from jobs.models import Job, JobLogLine, State
from tests import factories
from tests.jobs.runners import compensated_count

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def dead_job(site, **kw):  # type: ignore[no-untyped-def]
    stale = timezone.now() - timedelta(minutes=5)
    return factories.job(
        site,
        kind="test.hold",
        state=State.RUNNING,
        started_at=stale,
        heartbeat_at=stale,
        worker="w1",
        worker_pid=4242,
        compensation=[{"action": "test.count", "args": {"note": "replicas"}}],
        steps=[{"name": "change", "state": "running"}, {"name": "wait", "state": "pending"}],
        **kw,
    )


def test_a_silent_job_is_failed_compensated_and_released():
    site = factories.site(factories.cluster())
    job = dead_job(site)
    alive = factories.job(
        factories.site(factories.cluster()),
        kind="test.hold",
        state=State.RUNNING,
        heartbeat_at=timezone.now(),
    )
    assert reaper.reap() == [job.pk]
    job.refresh_from_db()
    assert job.state == State.FAILED and job.finished_at is not None
    assert job.error.startswith("worker died: no heartbeat since") and "w1 pid 4242" in job.error
    assert compensated_count(job.pk) == 1 and job.compensated_at is not None
    assert [s["state"] for s in job.steps] == ["failed", "skipped"]
    texts = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith("Failed: worker died") and "undoing replicas (run 1)" in texts
    assert Job.objects.get(pk=alive.pk).state == State.RUNNING
    assert not Job.objects.blocking_site(site.pk).exists()


def test_two_reapers_at_once_compensate_exactly_once():
    site = factories.site(factories.cluster())
    job = dead_job(site)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def reap() -> None:
        try:
            barrier.wait(5)
            results.append(reaper.reap())
        finally:
            connection.close()

    threads = [threading.Thread(target=reap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [[], [], [], [job.pk]]
    assert compensated_count(job.pk) == 1
    assert reaper.reap() == [] and compensated_count(job.pk) == 1


def test_lines_that_only_reached_the_stream_are_kept():
    site = factories.site(factories.cluster())
    job = dead_job(site)
    writer = LogWriter(job.pk, batch_lines=1000)
    for n in range(1, 6):
        writer.write(f"line {n}")
    writer.flush()
    for n in range(6, 9):
        writer.write(f"line {n}")  # in the stream, still in the dead worker's buffer
    reaper.reap()
    rows = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("seq", "text"))
    assert rows[:8] == [(n, f"line {n}") for n in range(1, 9)]
    assert rows[8][0] == 9 and rows[8][1].startswith("Failed: worker died")


def test_a_fresh_heartbeat_is_left_alone():
    site = factories.site(factories.cluster())
    job = factories.job(
        site, kind="test.hold", state=State.RUNNING, heartbeat_at=timezone.now() - timedelta(seconds=5)
    )
    assert reaper.reap() == []
    assert reaper.reap(older_than=timedelta(seconds=1)) == [job.pk]


def test_an_ended_job_whose_ender_died_is_marked_finished():
    site = factories.site(factories.cluster())
    job = factories.job(
        site,
        kind="test.hold",
        state=State.FAILED,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
        finished_at=None,
    )
    reaper.reap()
    assert Job.objects.get(pk=job.pk).finished_at is not None
