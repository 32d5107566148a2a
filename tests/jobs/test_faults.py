"""Redis restarted in the middle of a job: no line is lost from the stored log, and live viewers
(server-sent events and `job follow`) resume and end up with every line exactly once."""

from __future__ import annotations

import time

import pytest

from jobs import runner
from jobs.logs import read as logread
from jobs.models import JobLogLine, State
from tests import factories
from tests.jobs.helpers import SSEReader, in_thread, session_cookie, user
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_redis_restart_mid_job_loses_no_line(asgi_server, private_redis, caplog):
    job = factories.job(kind="test.lines", mutating=False, params={"count": 400, "delay": 0.008})
    viewer = SSEReader(
        f"{asgi_server.base}/jobs/{job.pk}/events?after=0", session_cookie(user("alice", "viewer"))
    )
    viewer.start()
    followed: list[int] = []
    follower = in_thread(lambda: followed.extend(line.seq for line in logread.follow(job.pk, block_ms=300)))
    worker = in_thread(lambda: runner.execute(job.pk))

    wait_for(lambda: len(viewer.seqs()) > 60, 15, "the first live lines")
    private_redis.kill()  # mid-job: the runner keeps writing to the database
    killed_at = max(viewer.seqs())
    time.sleep(1.0)
    private_redis.start()  # back on the same port, empty: the old stream is gone
    worker.join(30)
    follower.join(30)
    assert viewer.done.wait(30), "the live viewer did not reach the end"

    job.refresh_from_db()
    assert job.state == State.SUCCEEDED
    stored = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("seq", flat=True))
    assert stored == list(range(1, len(stored) + 1))  # no hole
    texts = set(JobLogLine.objects.filter(job=job).values_list("text", flat=True))
    assert {f"line {n}" for n in range(1, 401)} <= texts  # every line the job wrote
    assert killed_at < 400  # the restart really happened mid-job...
    assert "live log stream unavailable" in caplog.text and "live log stream is back" in caplog.text
    assert viewer.error is None and viewer.seqs() == stored  # once each, in order
    assert followed == stored
    assert viewer.ended() is not None
