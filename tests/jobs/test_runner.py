"""The runner base: lifecycle, steps, results, failures, cancel, compensation, claim."""

from __future__ import annotations

import threading
import time

import pytest

from jobs import runner
from jobs.control import cancel
from jobs.models import Job, JobLogLine, State
from tests import factories
from tests.jobs.helpers import in_thread, user
from tests.jobs.runners import compensated_count
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def texts(job: Job) -> list[str]:
    return list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("text", flat=True))


def test_a_job_runs_to_success_with_steps_result_and_log():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 25})
    assert runner.execute(job.pk) == State.SUCCEEDED
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.result == {"lines": 25} and job.error == ""
    assert job.started_at and job.finished_at and job.heartbeat_at and job.worker and job.worker_pid
    assert [(s["name"], s["state"]) for s in job.steps] == [("write", "succeeded"), ("finish", "succeeded")]
    lines = texts(job)
    assert [t for t in lines if t.startswith("line ")] == [f"line {n}" for n in range(1, 26)]
    assert lines[0].startswith("Started") and lines[-1].startswith("Succeeded in")
    seqs = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # a cursor never finds a hole
    assert JobLogLine.objects.filter(job=job, text="line 10", stream="stderr").exists()


def test_a_step_can_end_failed_while_the_job_goes_on():
    job = factories.job(
        kind="test.lines", mutating=False, params={"count": 2, "write_fails": True, "fail": True}
    )
    assert runner.execute(job.pk) == State.FAILED
    job.refresh_from_db()
    assert [(s["name"], s["state"]) for s in job.steps] == [("write", "failed"), ("finish", "failed")]
    marks = [t for t in texts(job) if t[:2] in ("✓ ", "✗ ")]
    assert [m.split(" (")[0] for m in marks] == ["✗ write", "✗ finish"]  # never "✓" for a step that failed


def test_a_job_is_claimed_once():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 1})
    assert runner.execute(job.pk) == State.SUCCEEDED
    assert runner.execute(job.pk) is None  # a second delivery does nothing: never re-run
    assert texts(job).count("line 1") == 1


@pytest.mark.parametrize("state", [State.FAILED, State.CANCELLED, State.RUNNING])
def test_a_message_for_a_job_no_longer_queued_runs_nothing(state):
    """The reaper may fail a queued job whose message it believes lost; if the message turns up
    after all, the runner must not run a job that has already ended (or that another worker runs)."""
    job = factories.job(kind="test.lines", mutating=False, state=state, error="never picked up")
    assert runner.execute(job.pk) is None
    after = Job.objects.get(pk=job.pk)
    assert (after.state, after.error, after.started_at) == (state, "never picked up", None)
    assert texts(job) == []


def test_an_expected_failure_has_its_message_and_no_traceback():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 2, "fail": True})
    assert runner.execute(job.pk) == State.FAILED
    job.refresh_from_db()
    assert job.error == "asked to fail"
    assert job.steps[-1]["state"] == "failed"
    assert not any("Traceback" in t for t in texts(job))


def test_a_crash_fails_the_job_with_the_traceback_in_its_log():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 1, "crash": True})
    assert runner.execute(job.pk) == State.FAILED
    job.refresh_from_db()
    assert job.error == "RuntimeError: a bug in the job"
    assert any("Traceback" in t for t in texts(job))


def test_unknown_kind_fails_clearly():
    job = factories.job(kind="no-such-kind", mutating=False)
    assert runner.execute(job.pk) == State.FAILED
    assert "no runner is registered" in Job.objects.get(pk=job.pk).error


def test_failure_runs_the_compensation_once(private_redis):
    class Breaks(runner.JobRunner):
        kind = "test.breaks"

        def run(self) -> None:
            self.set_compensation("test.count", note="scaled down")
            raise RuntimeError("docker went away")

    runner.register(Breaks)
    job = factories.job(kind="test.breaks", mutating=False)
    assert runner.execute(job.pk) == State.FAILED
    job.refresh_from_db()
    assert compensated_count(job.pk) == 1
    assert job.compensated_at is not None
    assert [(r["action"], r["ok"], r["detail"]) for r in job.compensation_result] == [
        ("test.count", True, "run 1")
    ]
    assert "undoing scaled down (run 1)" in texts(job)


def test_cancel_stops_a_running_job_and_compensates():
    site = factories.site(factories.cluster())
    job = factories.job(site, kind="test.hold", params={"seconds": 30})
    done: dict = {}
    thread = in_thread(lambda: done.update(state=runner.execute(job.pk)))
    wait_for(lambda: JobLogLine.objects.filter(job=job, text="waiting").exists(), 10, "the job to wait")
    assert cancel(Job.objects.get(pk=job.pk), user=user("bob")) == "requested"
    thread.join(10)
    job.refresh_from_db()
    assert done["state"] == State.CANCELLED == job.state
    assert job.error == "Cancelled by bob." and job.cancelled_by_name == "bob"
    assert compensated_count(job.pk) == 1
    assert [(s["name"], s["state"]) for s in job.steps] == [
        ("change", "succeeded"),
        ("wait", "cancelled"),
        ("restore", "skipped"),
    ]
    assert job.finished_at is not None


def test_cancel_of_a_queued_job_ends_it_directly():
    job = factories.job(kind="test.lines", mutating=False)
    bob = user("bob")
    assert cancel(job, user=bob) == "cancelled"
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.finished_at is not None
    assert runner.execute(job.pk) is None  # the task arriving later finds nothing to run
    assert cancel(job, user=bob) == ""
    assert texts(job) == ["Cancelled by bob before it started."]


def test_success_does_not_compensate():
    site = factories.site(factories.cluster())
    job = factories.job(site, kind="test.hold", params={"seconds": 0})
    assert runner.execute(job.pk) == State.SUCCEEDED
    job.refresh_from_db()
    assert job.compensation == [] and job.compensated_at is None and compensated_count(job.pk) == 0


def test_heartbeat_beats_while_the_job_runs():
    site = factories.site(factories.cluster())
    job = factories.job(site, kind="test.hold", params={"seconds": 2.5})
    thread = in_thread(lambda: runner.execute(job.pk))
    first = wait_for(lambda: Job.objects.get(pk=job.pk).heartbeat_at, 5, "the claim")
    time.sleep(1.6)
    assert Job.objects.get(pk=job.pk).heartbeat_at > first
    thread.join(10)


def test_logging_through_the_runner_logger_lands_in_the_job_log():
    class Chatty(runner.JobRunner):
        kind = "test.chatty"

        def run(self) -> None:
            self.logger.info("hello from logging")
            self.logger.warning("careful")

    runner.register(Chatty)
    job = factories.job(kind="test.chatty", mutating=False)
    runner.execute(job.pk)
    rows = dict(JobLogLine.objects.filter(job=job).values_list("text", "stream"))
    assert rows["hello from logging"] == "system" and rows["careful"] == "stderr"


def test_the_runner_registry_refuses_a_second_class_for_a_kind():
    class Other(runner.JobRunner):
        kind = "test.lines"

    with pytest.raises(ValueError, match="already run by"):
        runner.register(Other)
    with pytest.raises(runner.UnknownKind):
        runner.runner_for("nope")


def test_threads_are_not_left_behind():
    before = threading.active_count()
    job = factories.job(kind="test.lines", mutating=False, params={"count": 3})
    runner.execute(job.pk)
    assert threading.active_count() == before
