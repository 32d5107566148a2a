"""A real Swarm service's logs followed into a job's log, on the lab (stdout and stderr kept apart,
colour codes stripped, docker's split of a long line joined and cut with a mark)."""

from __future__ import annotations

import time
import uuid

import docker
import pytest
from docker.types import RestartPolicy

from jobs import runner
from jobs.logs.follow import follow_service
from jobs.models import JobLogLine, State, Stream
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.lab]

SCRIPT = r"""
import sys
for n in range(1, 201):
    print(f"out {n}", flush=True)
    if n % 50 == 0:
        print(f"err {n}", file=sys.stderr, flush=True)
print("\x1b[1;31mred\x1b[0m done", flush=True)
print("L" * 20000, flush=True)
"""
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned"}


@runner.register
class FollowOneOff(runner.JobRunner):
    """What a module update does with its one-off service: follow its log until its task ends."""

    kind = "test.follow_lab_service"
    mutating = False

    def run(self) -> dict:
        client = docker.DockerClient(base_url=self.params["socket"], version="auto")
        service = client.services.get(self.params["service"])
        with self.step("follow"), follow_service(self, client, service.id) as follower:
            deadline = time.monotonic() + 90
            while not any(t["Status"]["State"] in ENDED for t in service.tasks()):
                if time.monotonic() > deadline:
                    self.fail("the one-off task did not end")
                self.check_cancelled()
                time.sleep(0.2)
        client.close()
        return {"lines": follower.lines}


def test_a_lab_service_log_is_followed_into_the_job(lab):
    client = lab.client()
    name = f"jobs-test-logs-{uuid.uuid4().hex[:8]}"
    service = client.services.create(
        lab.image("odoo").pinned,
        command=["python3", "-c", SCRIPT],
        name=name,
        restart_policy=RestartPolicy(condition="none"),
        labels={"oplab.test": "jobs"},
    )
    try:
        job = factories.job(
            kind="test.follow_lab_service",
            mutating=False,
            params={"socket": lab.manager_socket, "service": name},
        )
        assert runner.execute(job.pk) == State.SUCCEEDED, job.error
    finally:
        service.remove()
        client.close()
    rows = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("stream", "text", "time"))
    followed = [(s, t) for s, t, _ in rows if s != Stream.SYSTEM]
    assert [t for s, t in followed if s == Stream.STDOUT][:200] == [f"out {n}" for n in range(1, 201)]
    assert [t for s, t in followed if s == Stream.STDERR] == [f"err {n}" for n in (50, 100, 150, 200)]
    assert ("stdout", "red done") in followed
    long = [t for s, t in followed if t.startswith("LLLL")]
    assert long == ["L" * 4000 + " …[cut 16000 chars]"]  # joined across docker's 16 KB split, then cut
    assert len(followed) == 206
