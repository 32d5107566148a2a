"""An undo that fails is owed, not forgotten (found while proving "the engine unreachable mid-job"):
run_compensation used to mark a job compensated even when its action raised, so a site left at 0
replicas by an unreachable engine stayed there. Now the failed actions stay recorded, the claim is
released, and the reaper's passes retry them (at most every JOB_COMPENSATION_RETRY_SECONDS) until
they succeed; actions that succeeded are never run again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs import reaper
from jobs.compensation import compensation, run_compensation
from jobs.models import Job

pytestmark = [pytest.mark.integration]

RUNS: dict[str, int] = {}
BROKEN: set[str] = set()


@compensation("test.flaky")
def flaky(job: Job, log: Any, *, name: str) -> str:
    RUNS[name] = RUNS.get(name, 0) + 1
    if name in BROKEN:
        raise ConnectionError(f"{name}: the engine is unreachable")
    return f"{name} undone"


@pytest.fixture
def job(db) -> Job:  # type: ignore[no-untyped-def]
    RUNS.clear()
    BROKEN.clear()
    return Job.objects.create(
        kind="module_update",
        state="running",
        compensation=[
            {"action": "test.flaky", "args": {"name": "replicas"}},
            {"action": "test.flaky", "args": {"name": "one-off"}},
        ],
    )


def end(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(state="failed", finished_at=timezone.now())


def test_a_failed_action_stays_owed_and_the_others_are_not_run_again(job: Job) -> None:
    BROKEN.add("replicas")
    assert run_compensation(job, log_line=lambda *a: None, reason="failed")
    end(job)
    job.refresh_from_db()
    assert job.compensated_at is None  # released: the undo is not done
    assert job.compensation == [{"action": "test.flaky", "args": {"name": "replicas"}}]
    assert [(r["action"], r["ok"]) for r in job.compensation_result] == [
        ("test.flaky", True),
        ("test.flaky", False),
    ]

    BROKEN.clear()  # the engine is back
    assert reaper.retry_compensation(now=timezone.now() + timedelta(seconds=31)) == [job.pk]
    job.refresh_from_db()
    assert job.compensated_at is not None and all(r["ok"] for r in job.compensation_result)
    assert RUNS == {"one-off": 1, "replicas": 2}  # the one-off was undone once only
    assert reaper.retry_compensation(now=timezone.now() + timedelta(seconds=62)) == []


def test_retries_are_spaced_while_the_engine_stays_away(job: Job, settings) -> None:  # type: ignore[no-untyped-def]
    settings.JOB_COMPENSATION_RETRY_SECONDS = 30
    BROKEN.update({"replicas", "one-off"})
    run_compensation(job, log_line=lambda *a: None, reason="failed")
    end(job)
    assert reaper.retry_compensation() == []  # tried a moment ago
    later = timezone.now() + timedelta(seconds=31)
    assert reaper.retry_compensation(now=later) == [job.pk]
    assert RUNS == {"one-off": 2, "replicas": 2}
    assert Job.objects.get(pk=job.pk).compensated_at is None


def test_a_job_still_running_is_left_to_its_runner(job: Job) -> None:
    BROKEN.add("replicas")
    run_compensation(job, log_line=lambda *a: None, reason="failed")
    # not ended yet (its runner is about to finish it): the reaper's retry does not touch it
    assert reaper.retry_compensation(now=timezone.now() + timedelta(hours=1)) == []
