"""Runners and a compensation action for the tests; the test worker imports this (--include)."""

from __future__ import annotations

import time
from typing import Any

from jobs.compensation import compensation
from jobs.logs import stream_client
from jobs.models import Job, Stream
from jobs.runner import JobRunner, register


def compensated_count(job_id: int) -> int:
    return int(stream_client().get(f"test:compensated:{job_id}") or 0)


@compensation("test.count")
def count(job: Job, log: Any, *, note: str = "") -> str:
    """Counts its runs in Redis, so a test in another process can see it ran exactly once."""
    runs = stream_client().incr(f"test:compensated:{job.pk}")
    log(f"undoing {note} (run {runs})", Stream.SYSTEM)
    return f"run {runs}"


@register
class Lines(JobRunner):
    """Writes `count` numbered lines, `delay` seconds apart; fails at the end if asked."""

    kind = "test.lines"
    mutating = False
    plan = ("write", "finish")

    def run(self) -> dict:
        count, delay = int(self.params.get("count", 10)), float(self.params.get("delay", 0))
        with self.step("write"):
            for n in range(1, count + 1):
                self.log(f"line {n}", Stream.STDERR if n % 10 == 0 else Stream.STDOUT)
                if delay:
                    time.sleep(delay)
        with self.step("finish"):
            if self.params.get("fail"):
                self.fail("asked to fail")
            if self.params.get("crash"):
                raise RuntimeError("a bug in the job")
        return {"lines": count}


@register
class Hold(JobRunner):
    """Takes its site, records something to undo, then waits (checking for cancel) for `seconds`."""

    kind = "test.hold"
    plan = ("change", "wait", "restore")

    def run(self) -> dict:
        with self.step("change"):
            self.set_compensation("test.count", note="the change")
            self.log("changed (pretend)")
        with self.step("wait"):
            deadline = time.monotonic() + float(self.params.get("seconds", 30))
            while time.monotonic() < deadline:
                self.check_cancelled()
                self.log("waiting")
                time.sleep(0.2)
        with self.step("restore"):
            self.clear_compensation("test.count")
        return {"held": True}
