"""Compensation survives a kill: the claim is taken before the actions run, each action is
recorded as it completes, and `compensated_at` is set only when nothing is owed. A holder killed
between its claim and its actions (a worker running a cancel, the reaper task itself) used to
leave the job marked compensated with its site at 0 replicas; now the reaper's next pass takes the
stale claim over and runs what is still owed, exactly once."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import compensation, reaper
from jobs.compensation import run_compensation
from jobs.control import start
from jobs.models import Job, JobLogLine, State
from panel.models import AuditEvent
from tests import factories
from tests.jobs.runners import tally_count
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

OWED = [
    {"action": "test.tally", "args": {"name": "replicas"}},
    {"action": "test.tally", "args": {"name": "one-off"}},
]


class Killed(BaseException):
    """Stands for SIGKILL: nothing in run_compensation catches it or cleans up after it."""


def ended_job(**kw):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster())
    fields = {"kind": "test.hold", "state": State.FAILED, "compensation": OWED, **kw}
    return factories.job(site, **fields)


def texts(job: Job) -> list[str]:
    return list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("text", flat=True))


def kill_before_action(monkeypatch, number: int) -> None:  # type: ignore[no-untyped-def]
    """The process dies just before its `number`-th action (1 = right after the claim)."""
    real, calls = compensation._run_action, []

    def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == number:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(compensation, "_run_action", dying)


def test_a_claim_whose_holder_was_killed_is_taken_over_and_run_once():
    stale = timezone.now() - timedelta(minutes=5)
    job = ended_job(compensation_claimed_at=stale, compensation_claimed_by="w1 pid 4242 #dead")
    assert reaper.reap() == []
    job.refresh_from_db()
    assert job.compensated_at is not None and job.compensation == []
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "one-off")) == (1, 1)
    assert "Taking over the compensation from w1 pid 4242 #dead, which stopped" in texts(job)
    event = AuditEvent.objects.get(action="job.compensate", job_id=job.pk)
    assert event.actor_username == "system" and "taken over from w1 pid 4242 #dead" in event.detail
    reaper.reap(now=timezone.now() + timedelta(hours=1))
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "one-off")) == (1, 1)


def test_killed_right_after_the_claim_nothing_is_marked_done(monkeypatch):
    job = ended_job()
    kill_before_action(monkeypatch, 1)
    with pytest.raises(Killed):
        run_compensation(job, log_line=lambda *a: None, reason="cancelled")
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.compensated_at is None and job.compensation == OWED and job.compensation_claimed_by
    assert reaper.reap() == [] and tally_count(job.pk, "replicas") == 0  # the claim is still fresh
    reaper.reap(now=timezone.now() + timedelta(minutes=2))
    job.refresh_from_db()
    assert job.compensated_at is not None
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "one-off")) == (1, 1)


def test_killed_halfway_only_what_is_owed_runs_again(monkeypatch):
    job = ended_job()
    kill_before_action(monkeypatch, 2)  # one-off (recorded last) is undone, then the kill
    with pytest.raises(Killed):
        run_compensation(job, log_line=lambda *a: None, reason="cancelled")
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.compensation == OWED[:1] and job.compensated_at is None
    assert [(r["detail"], r["ok"]) for r in job.compensation_result] == [("one-off run 1", True)]

    reaper.reap(now=timezone.now() + timedelta(minutes=2))
    reaper.reap(now=timezone.now() + timedelta(hours=1))
    job.refresh_from_db()
    assert job.compensated_at is not None and job.compensation == []
    assert [r["detail"] for r in job.compensation_result] == ["one-off run 1", "replicas run 1"]
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "one-off")) == (1, 1)


def test_four_reapers_take_over_a_stale_claim_once():
    job = ended_job(
        compensation_claimed_at=timezone.now() - timedelta(minutes=5), compensation_claimed_by="gone"
    )
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def retry() -> None:
        try:
            barrier.wait(5)
            results.append(reaper.retry_compensation())
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [[], [], [], [job.pk]]
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "one-off")) == (1, 1)


def test_a_slow_action_keeps_its_claim_fresh(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = ended_job(compensation=[{"action": "test.tally", "args": {"name": "slow", "seconds": 2}}])
    done = threading.Event()

    def undo() -> None:
        try:
            run_compensation(Job.objects.get(pk=job.pk), log_line=lambda *a: None, reason="failed")
        finally:
            done.set()
            connection.close()

    threading.Thread(target=undo, daemon=True).start()
    time.sleep(1.2)
    # A bound shorter than the action: only the holder's refreshes keep its claim from going stale.
    assert reaper.retry_compensation(stale_before=timezone.now() - timedelta(seconds=0.8)) == []
    assert done.wait(10)
    assert tally_count(job.pk, "slow") == 1 and Job.objects.get(pk=job.pk).compensated_at is not None


def test_a_worker_killed_while_compensating_is_taken_over(worker, settings):
    """The real thing: the worker's pool process is SIGKILLed by its second undo action."""
    settings.JOB_COMPENSATION_RETRY_SECONDS = 0
    site = factories.site(factories.cluster())
    job = start("test.undo_dies", site=site, params={"spare_pid": os.getpid()})
    wait_for(lambda: tally_count(job.pk, "die_once") == 1, 30, "the undo to kill its worker", every=0.1)
    assert tally_count(job.pk, "replicas") == 1

    def undone() -> bool:
        reaper.reap(older_than=timedelta(seconds=3))
        return bool(Job.objects.filter(pk=job.pk, compensated_at__isnull=False).exists())

    wait_for(undone, 60, "the reaper to take the compensation over", every=0.5)
    job.refresh_from_db()
    assert job.state == State.FAILED and job.finished_at is not None
    assert (tally_count(job.pk, "replicas"), tally_count(job.pk, "die_once")) == (1, 2)
    assert [r["action"] for r in job.compensation_result] == ["test.tally", "test.die_once"]
    assert all(r["ok"] for r in job.compensation_result) and job.compensation == []
    assert AuditEvent.objects.filter(action="job.compensate", job_id=job.pk).count() == 1
    assert any(t.startswith("Taking over the compensation from ") for t in texts(job))
