"""`manage.py job list|follow|cancel`: the buttons, from a shell."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs import runner
from jobs.models import Job, State
from tests import factories
from tests.jobs.helpers import in_thread, user
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("job", *args, stdout=out)
    return out.getvalue()


def test_list_filters_by_site_and_state():
    site = factories.site(factories.cluster(), slug="acme")
    done = factories.job(site, kind="deploy", state=State.SUCCEEDED, created_by_name="bob")
    queued = factories.job(kind="sync", mutating=False)
    listing = run("list")
    assert f"{done.pk:>6}  succeeded  deploy" in listing and f"{queued.pk:>6}  queued" in listing
    ids = lambda out: [int(row.split()[0]) for row in out.splitlines()[1:]]  # noqa: E731
    assert ids(run("list", "--site", "acme")) == [done.pk]
    assert ids(run("list", "--state", "queued")) == [queued.pk]


def test_follow_prints_lines_live_and_exits_0_on_success():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 50, "delay": 0.01})
    thread = in_thread(lambda: runner.execute(job.pk))
    out = run("follow", str(job.pk))
    thread.join(10)
    printed = out.splitlines()
    assert [p.split(" ", 1)[1] for p in printed if "line " in p][:2] == ["line 1", "line 2"]
    assert sum(1 for p in printed if p.endswith(("line 10", "line 50"))) == 2
    assert "[stderr] line 10" in out and "[system] Succeeded in" in out


def test_follow_exits_1_when_the_job_failed():
    job = factories.job(kind="test.lines", mutating=False, params={"count": 1, "fail": True})
    runner.execute(job.pk)
    with pytest.raises(CommandError) as failed:
        run("follow", str(job.pk))
    assert failed.value.returncode == 1 and "asked to fail" in str(failed.value)


def test_cancel_a_running_job_from_the_shell():
    site = factories.site(factories.cluster())
    job = factories.job(site, kind="test.hold", params={"seconds": 30})
    thread = in_thread(lambda: runner.execute(job.pk))
    wait_for(lambda: Job.objects.get(pk=job.pk).state == State.RUNNING, 10, "the job to start")
    user("bob")
    assert "cancel requested" in run("cancel", str(job.pk), "--user", "bob")
    thread.join(10)
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.cancelled_by_name == "bob"
    assert "nothing to cancel" in run("cancel", str(job.pk))
    with pytest.raises(CommandError, match="no job"):
        run("cancel", "999999")


def test_cancel_records_the_unix_user_without_a_panel_user():
    job = factories.job(kind="sync", mutating=False)
    assert "cancelled before it started" in run("cancel", str(job.pk))
    assert Job.objects.get(pk=job.pk).cancelled_by_name.startswith("cli:")
