"""Runners and a compensation action for the tests; the test worker imports this (--include)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from jobs.compensation import compensation
from jobs.logs.store import stream_client
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


def tally_count(job_id: int, name: str) -> int:
    return int(stream_client().get(f"test:tally:{job_id}:{name}") or 0)


@compensation("test.tally")
def tally(job: Job, log: Any, *, name: str, seconds: float = 0) -> str:
    """Counts its runs per name (a job may owe several); takes `seconds` first, like a slow engine."""
    time.sleep(seconds)
    return f"{name} run {stream_client().incr(f'test:tally:{job.pk}:{name}')}"


@compensation("test.die_once")
def die_once(job: Job, log: Any, *, spare_pid: int) -> str:
    """SIGKILLs its own process the first time it runs for a job (a worker lost mid-compensation);
    never the test process itself (`spare_pid`), which runs it again after the takeover."""
    runs = stream_client().incr(f"test:tally:{job.pk}:die_once")
    if runs == 1 and os.getpid() != spare_pid:
        os.kill(os.getpid(), signal.SIGKILL)
    return f"survived (run {runs})"


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
            if self.params.get("write_fails"):
                self.step_fails()  # and go on: the job fails later, as a module update does
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


@register
class UndoDies(JobRunner):
    """Records two undo actions, then fails: the first undo completes, the second kills the process."""

    kind = "test.undo_dies"

    def run(self) -> None:
        self.set_compensation("test.die_once", spare_pid=int(self.params["spare_pid"]))
        self.set_compensation("test.tally", name="replicas")
        self.fail("asked to fail")
