"""The job of the log_stream benchmark: follow a lab service's log until its task ends, what a module
update does with its one-off. The benchmark's Celery worker imports this module (`--include
log_stream_runner`, with PANEL_BENCH_WORKER=1) and so registers it; the benchmark registers it too,
to start the job."""

from __future__ import annotations

import os
import time

from bench._lab import ENDED


def register_runners() -> None:
    import docker

    from jobs.logs.follow import follow_service
    from jobs.runner import JobRunner, register

    class BenchFollowService(JobRunner):
        """Follows a lab service until its task ends: what a module update does with its one-off."""

        kind = "bench.follow_service"
        mutating = False

        def run(self) -> dict:
            client = docker.DockerClient(base_url=self.params["socket"], version="auto")
            service = client.services.get(self.params["service"])
            with follow_service(self, client, service.id) as follower:
                while not any(t["Status"]["State"] in ENDED for t in service.tasks()):
                    time.sleep(0.5)
            client.close()
            return {"lines": follower.lines}

    register(BenchFollowService)


if os.environ.get("PANEL_BENCH_WORKER") == "1":
    register_runners()
