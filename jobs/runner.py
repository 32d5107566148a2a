"""The runner base: one class owns a job's lifecycle so that each kind of job only writes `run()`.

    @register                                        # in a module its app imports in ready()
    class ScaleRunner(JobRunner):
        kind = "scale"                               # mutating = True (default): takes the site
        plan = ["Scale", "Wait"]                     # shown as pending steps before they run

        def run(self) -> dict:                       # the return value becomes job.result
            with job_client(self) as client:        # engine trouble becomes the job's failure
                with self.step("Scale"):
                    self.set_compensation("restore_replicas_all", services={name: before})
                    scale(client, name, replicas)    # undo recorded BEFORE the change
                self.check_cancelled()               # Cancel (or the reaper) stops it here
                with self.step("Wait"):
                    wait_converged(client, name)     # raise JobFailed("why") to fail it
                self.clear_compensation("restore_replicas_all")
            return {"replicas": replicas}

Helpers: self.log(text, stream="stdout"|"stderr"|"system"), self.log_lines([(text, stream, time)]),
self.step(name), self.set_compensation(action, **args) / clear_compensation(action), self.check_cancelled(),
self.cancelled (no query), self.fail(message), self.logger (logging into the job log), self.job,
self.params, self.site, self.cluster. Start one with jobs.control.start(kind, site=..., params=...).

The base claims the job (compare-and-swap queued -> running, so a duplicate delivery does nothing),
beats the heartbeat, flushes the log, records steps and timing, turns the outcome into the final
state, and on failure or cancel runs the compensation the job recorded. It never re-runs anything.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.utils import timezone

from jobs.announce import job_ended
from jobs.compensation import run_compensation
from jobs.heartbeat import Background
from jobs.logs.store import LogWriter, last_seq
from jobs.models import Job, State, Stream

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised by check_cancelled(); the base turns it into state `cancelled`."""


class JobLost(Exception):
    """The reaper ended this job while it still ran (the worker was frozen past the bound)."""


class JobFailed(Exception):
    """An expected failure: the message becomes job.error, without a traceback."""


class UnknownKind(LookupError):
    pass


_REGISTRY: dict[str, type[JobRunner]] = {}


def register(cls: type[JobRunner]) -> type[JobRunner]:
    """Class decorator: make `cls` the runner of jobs of kind `cls.kind`."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} needs a `kind`")
    existing = _REGISTRY.get(cls.kind)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"kind {cls.kind!r} is already run by {existing.__name__}")
    _REGISTRY[cls.kind] = cls
    return cls


def runner_for(kind: str) -> type[JobRunner]:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownKind(f"no runner is registered for jobs of kind {kind!r}") from None


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)


class _JobLogHandler(logging.Handler):
    """Routes `self.logger` records into the job's log (warnings and worse as stderr)."""

    def __init__(self, runner: JobRunner) -> None:
        super().__init__(level=logging.INFO)
        self.runner = runner

    def emit(self, record: logging.LogRecord) -> None:
        stream = Stream.STDERR if record.levelno >= logging.WARNING else Stream.SYSTEM
        self.runner.log(self.format(record), stream)


class JobRunner:
    kind: ClassVar[str] = ""
    mutating: ClassVar[bool] = True  # takes the per-site lock
    plan: ClassVar[Sequence[str]] = ()  # step names shown as pending before they run
    # Site fields the job sets to its param of the same name (scale: "replicas"): its start is
    # audited with the site's value as `before` and the param as `after` (jobs.control.start).
    sets_site: ClassVar[Sequence[str]] = ()

    def __init__(self, job: Job, *, writer: LogWriter | None = None) -> None:
        self.job = job
        self.params: dict[str, Any] = dict(job.params or {})
        self.writer = writer or LogWriter(job.pk, last_seq=last_seq(job.pk))
        self.logger = logging.getLogger(f"jobs.run.{job.kind}.{job.pk}")
        self._background: Background | None = None
        self._step_failing = False

    # --- what subclasses write ------------------------------------------------------------------

    def run(self) -> Any:
        """Do the work; the return value (JSON) becomes job.result."""
        raise NotImplementedError

    # --- helpers for run() ----------------------------------------------------------------------

    @property
    def site(self) -> Any:
        return self.job.site

    @property
    def cluster(self) -> Any:
        return self.job.cluster or (self.job.site.cluster if self.job.site else None)

    def log(self, text: str, stream: str = Stream.STDOUT, at: datetime | None = None) -> int:
        """One call for a line (or several, split on newlines): live stream + stored log."""
        return self.writer.write(text, stream, at)

    def log_lines(self, lines: Iterable[tuple[str, str, datetime | None]]) -> int:
        """Already-split (text, stream, time) lines in one go (used when following container logs)."""
        return self.writer.write_many(lines)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A timeline entry: running while the block runs, then succeeded / failed / cancelled."""
        entry = next((s for s in self.job.steps if s["name"] == name and s["state"] == "pending"), None)
        if entry is None:
            entry = {"name": name}
            self.job.steps.append(entry)
        entry.update(state="running", started_at=_iso(), finished_at=None)
        self._save_steps()
        self.log(f"▶ {name}", Stream.SYSTEM)
        started = time.monotonic()
        self._step_failing = False
        try:
            yield
        except JobCancelled:
            self._end_step(entry, "cancelled", started)
            raise
        except BaseException:
            self._end_step(entry, "failed", started)
            raise
        self._end_step(entry, "failed" if self._step_failing else "succeeded", started)

    def step_fails(self) -> None:
        """The running step ends failed without raising: the job goes on (to restore replicas, to
        verify) and fails afterwards, and the log and timeline show where it went wrong."""
        self._step_failing = True

    def set_compensation(self, action: str, **args: Any) -> None:
        """Record an undo action BEFORE making the change it undoes (stored at once)."""
        entries = [e for e in self.job.compensation if e.get("action") != action]
        entries.append({"action": action, "args": args})
        self._save_compensation(entries)

    def clear_compensation(self, action: str | None = None) -> None:
        """The job undid it itself (or the change is now wanted): forget one action, or all."""
        entries = [] if action is None else [e for e in self.job.compensation if e.get("action") != action]
        self._save_compensation(entries)

    @property
    def cancelled(self) -> bool:
        """Cheap check for loops (no query): a cancel seen by the heartbeat thread."""
        bg = self._background
        return bool(bg and (bg.cancelled.is_set() or bg.lost.is_set()))

    def check_cancelled(self) -> None:
        """Stop here if someone pressed Cancel (or the reaper ended the job). Call between steps."""
        bg = self._background
        if bg and bg.lost.is_set():
            raise JobLost("the reaper ended this job while it was running")
        requested = Job.objects.filter(pk=self.job.pk).values_list("cancel_requested_at", flat=True).first()
        if requested or (bg and bg.cancelled.is_set()):
            raise JobCancelled("cancelled on request")

    def fail(self, message: str) -> NoReturn:
        raise JobFailed(message)

    # --- the lifecycle --------------------------------------------------------------------------

    def execute(self) -> str:
        """Run a job already claimed (state running); returns the final state."""
        handler = _JobLogHandler(self)
        self.logger.addHandler(handler)
        self.logger.setLevel(logging.INFO)
        if self.plan and not self.job.steps:
            self.job.steps = [{"name": n, "state": "pending"} for n in self.plan]
            self._save_steps()
        beat_every = float(getattr(settings, "JOB_HEARTBEAT_SECONDS", 5))
        state, result, error = State.FAILED, None, ""
        started = time.monotonic()
        try:
            with Background(self.job.pk, self.writer, beat_every=beat_every) as self._background:
                self.log(f"Started {self.job} on {self.job.worker or socket.gethostname()}", Stream.SYSTEM)
                try:
                    result = self.run()
                    state = State.SUCCEEDED
                except JobLost:
                    self.log("Stopped: the reaper had already ended this job.", Stream.SYSTEM)
                    self.writer.flush()
                    return Job.objects.values_list("state", flat=True).get(pk=self.job.pk)
                except JobCancelled:
                    state, error = State.CANCELLED, self._cancel_message()
                    self.log(error, Stream.SYSTEM)
                except JobFailed as exc:
                    error = str(exc)
                    self.log(f"Failed: {error}", Stream.STDERR)
                except Exception as exc:  # the job's own bug or a lost connection: fail, undo, report
                    error = f"{type(exc).__name__}: {exc}"
                    self.log(traceback.format_exc(), Stream.STDERR)
                if state != State.SUCCEEDED:
                    self._skip_pending_steps()
                    run_compensation(self.job, log_line=self.log, reason=state)
                self.log(f"{State(state).label} in {time.monotonic() - started:.1f} s", Stream.SYSTEM)
                self.writer.flush()
        finally:
            self.logger.removeHandler(handler)
            self._background = None
        return self._finish(state, result, error)

    def _finish(self, state: str, result: Any, error: str) -> str:
        # A job that ends without returning keeps what its runner recorded in job.result (a
        # refusal, a verdict): `site ... --wait` tells a refusal (exit 2) from a failure by it.
        result = result if result is not None else self.job.result
        # The last lines are stored before the job counts as finished: a viewer that sees
        # finished_at reads the rest from the database and must find everything there.
        self.writer.flush()
        now = timezone.now()
        ended = Job.objects.filter(pk=self.job.pk, state=State.RUNNING).update(
            state=state,
            result=result,
            error=error[:10_000],
            steps=self.job.steps,
            finished_at=now,
            heartbeat_at=now,
        )
        if not ended:
            log.warning("job %s ended as %s, but the reaper had ended it first", self.job.pk, state)
            return Job.objects.values_list("state", flat=True).get(pk=self.job.pk)
        self.writer.close(state)
        job_ended(self.job, state, error)
        return state

    def _cancel_message(self) -> str:
        by = Job.objects.values_list("cancelled_by_name", flat=True).get(pk=self.job.pk)
        return f"Cancelled{f' by {by}' if by else ''}."

    def _end_step(self, entry: dict[str, Any], state: str, started: float) -> None:
        entry.update(state=state, finished_at=_iso())
        self._save_steps()
        mark = {"succeeded": "✓", "failed": "✗", "cancelled": "■"}[state]
        self.log(f"{mark} {entry['name']} ({time.monotonic() - started:.1f} s)", Stream.SYSTEM)

    def _skip_pending_steps(self) -> None:
        pending = [s for s in self.job.steps if s.get("state") == "pending"]
        for entry in pending:
            entry["state"] = "skipped"
        if pending:
            self._save_steps()

    def _save_steps(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(steps=self.job.steps)

    def _save_compensation(self, entries: list[dict[str, Any]]) -> None:
        Job.objects.filter(pk=self.job.pk).update(compensation=entries)
        self.job.compensation = entries


def _iso() -> str:
    return timezone.now().isoformat()


def claim(job_id: int) -> Job | None:
    """queued -> running for exactly one caller; None if the job was cancelled, claimed or reaped."""
    now = timezone.now()
    won = Job.objects.filter(pk=job_id, state=State.QUEUED).update(
        state=State.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=socket.gethostname()[:255],
        worker_pid=os.getpid(),
    )
    if won != 1:
        return None
    return Job.objects.select_related("site", "cluster").get(pk=job_id)


def execute(job_id: int) -> str | None:
    """Claim and run one job (what the Celery task calls). Returns the final state, or None."""
    job = claim(job_id)
    if job is None:
        log.info("job %s not claimed (cancelled, already running or ended); nothing to do", job_id)
        return None
    try:
        runner_cls = runner_for(job.kind)
    except UnknownKind as exc:
        runner_cls = _unknown(str(exc))
    return runner_cls(job).execute()


def _unknown(message: str) -> type[JobRunner]:
    class Unknown(JobRunner):
        def run(self) -> Any:
            self.fail(message)

    return Unknown
