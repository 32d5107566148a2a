"""The reaper: a job whose worker died is failed with the reason and compensated exactly once; a
queued job whose Celery message was lost is failed too, so that it does not hold its site forever."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.utils import timezone

from jobs import reaper, runner
from jobs.control import start
from jobs.logs.store import LogWriter
from jobs.models import Job, JobLogLine, State
from panel.models import AuditEvent
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


@pytest.fixture
def broker(private_redis):  # type: ignore[no-untyped-def]
    """The Celery broker of the tests (no worker listens in these tests); emptied around each."""
    client = redis.Redis.from_url(private_redis.url(1))
    client.flushdb()
    yield client
    client.flushdb()


def queued_long_ago(site):  # type: ignore[no-untyped-def]
    job = start("test.hold", site=site)  # enqueued on commit: its message waits in the broker
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    return Job.objects.get(pk=job.pk)


def test_a_queued_job_whose_message_was_lost_is_failed_and_releases_its_site(broker):
    site = factories.site(factories.cluster())
    job = queued_long_ago(site)
    assert reaper.reap() == []  # its task still waits in the broker: a worker will get to it
    assert Job.objects.get(pk=job.pk).state == State.QUEUED

    broker.flushdb()  # Redis restarted: the message is gone
    assert reaper.reap() == [job.pk]
    job.refresh_from_db()
    assert job.state == State.FAILED and job.finished_at is not None
    assert job.error.startswith("never picked up by a worker: queued since")
    assert job.celery_task_id in job.error
    event = AuditEvent.objects.get(action="job.reap", job_id=job.pk)
    assert event.actor_username == "system" and event.detail == job.error
    assert list(JobLogLine.objects.filter(job=job).values_list("text", flat=True)) == [f"Failed: {job.error}"]
    assert start("test.hold", site=site).state == State.QUEUED  # the site is free again

    assert runner.execute(job.pk) is None  # the lost message turning up late runs nothing
    assert Job.objects.get(pk=job.pk).state == State.FAILED
    assert JobLogLine.objects.filter(job=job).count() == 1
    assert reaper.reap() == []


def test_a_task_delivered_to_a_worker_but_not_started_still_counts(broker):
    site = factories.site(factories.cluster())
    job = queued_long_ago(site)
    message = broker.rpop("celery")
    assert message is not None
    # What kombu's Redis transport keeps for a prefetched message until the task starts.
    broker.hset("unacked", "tag-1", json.dumps([json.loads(message), "", "celery"]))
    assert reaper.reap() == [] and Job.objects.get(pk=job.pk).state == State.QUEUED
    broker.hdel("unacked", "tag-1")
    assert reaper.reap() == [job.pk]


def test_a_job_queued_a_short_while_is_left_alone(broker, settings):
    settings.JOB_QUEUED_TIMEOUT = 1800
    job = start("test.hold", site=factories.site(factories.cluster()))
    broker.flushdb()
    assert reaper.reap() == []
    assert reaper.reap(now=timezone.now() + timedelta(minutes=31)) == [job.pk]


def test_an_unreadable_broker_ends_nothing(broker, monkeypatch):
    job = queued_long_ago(factories.site(factories.cluster()))
    broker.flushdb()
    monkeypatch.setattr(reaper, "held_task_ids", lambda: None)
    assert reaper.reap() == [] and Job.objects.get(pk=job.pk).state == State.QUEUED
