"""Compensation: named undo actions a job records *before* it changes something.

A runner calls `self.set_compensation("restore_replicas_all", services={"acme_odoo": 2, ...})`
before it scales a site to 0. The entry is written to the Job row at once, so that whoever ends the job (the
runner on failure or cancel, or the reaper after the worker died) can undo it without knowing the
runner's code. Actions run last-recorded-first. Whoever runs them first takes a claim (a
conditional UPDATE naming the holder) and refreshes it while they run; each action leaves the
owed list as soon as it is done, and `compensated_at` is set only once nothing is owed. A holder
killed halfway leaves its claim to go stale: the reaper takes it over and runs what is still owed.

Register an action where the code it needs lives, in a module its app imports in ready() (the
site jobs' actions are in clusters/sites/client.py, next to the docker client):

    @compensation("restore_replicas_all")
    def restore_replicas_all(job: Job, log: LogFn, *, services: dict[str, int]) -> str:
        ...  # idempotent: a takeover re-runs an action whose holder died before recording it
        return "restored acme_odoo=2, acme_cron=1"
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.db.models import Q
from django.utils import timezone

from jobs.models import Job, State, Stream

log = logging.getLogger(__name__)


class LogFn(Protocol):
    def __call__(self, text: str, stream: str = ...) -> Any: ...


Action = Callable[..., Any]
_ACTIONS: dict[str, Action] = {}


def compensation(name: str) -> Callable[[Action], Action]:
    """Register `fn(job, log, **args)` as the undo action `name`."""

    def decorate(fn: Action) -> Action:
        existing = _ACTIONS.get(name)
        if existing is not None and existing is not fn and existing.__qualname__ != fn.__qualname__:
            raise ValueError(f"compensation action {name!r} is already registered by {existing!r}")
        _ACTIONS[name] = fn
        return fn

    return decorate


def action(name: str) -> Action | None:
    return _ACTIONS.get(name)


def registered() -> list[str]:
    return sorted(_ACTIONS)


def claim_timeout() -> timedelta:
    """A claim not refreshed for this long belongs to a holder that died or froze. The same bound as
    a job's heartbeat: the holder refreshes its claim as often as a job beats."""
    return timedelta(seconds=float(getattr(settings, "JOB_HEARTBEAT_TIMEOUT", 30)))


def run_compensation(job: Job, *, log_line: LogFn, reason: str, stale_before: datetime | None = None) -> bool:
    """Run the job's owed undo actions; False if another holder has them (or they are done).

    One failing action does not stop the others: each undoes something independent, and a site
    left at 0 replicas is worse than a half-finished undo. Each outcome is stored as it happens
    (compensation_result) and a done action leaves `compensation` at once, so a holder killed
    halfway leaves exactly what is still owed; the reaper takes over its claim once it is older
    than `stale_before` (default: now - claim_timeout()). An action that raised stays owed and the
    claim is released, so the reaper's next pass retries it. `compensated_at` is set only when
    nothing is owed any more.
    """
    claim = Claim.take(job.pk, stale_before or timezone.now() - claim_timeout())
    if claim is None:
        return False
    if claim.previous:
        log_line(f"Taking over the compensation from {claim.previous}, which stopped", Stream.SYSTEM)
    if claim.remaining:
        log_line(
            f"Compensating ({reason}): {', '.join(e.get('action', '?') for e in reversed(claim.remaining))}",
            Stream.SYSTEM,
        )
        with claim.kept_alive():
            for entry in list(reversed(claim.remaining)):
                if not claim.record(entry, _run_action(job, entry, log_line)):
                    log_line("Compensation taken over by another process; stopping here", Stream.STDERR)
                    return True
    claim.end(log_line)
    return True


def _run_action(job: Job, entry: dict[str, Any], log_line: LogFn) -> dict[str, Any]:
    name, args = entry.get("action", ""), entry.get("args") or {}
    fn = _ACTIONS.get(name)
    try:
        if fn is None:
            raise LookupError(f"no compensation action named {name!r} is registered in this process")
        detail = fn(job, log_line, **args)
    except Exception as exc:
        log.exception("job %s: compensation %s failed", job.pk, name)
        log_line(f"Compensation {name} FAILED: {type(exc).__name__}: {exc}", Stream.STDERR)
        return {"action": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}", "at": _iso()}
    log_line(f"Compensation {name}: done{f' ({detail})' if detail else ''}", Stream.SYSTEM)
    return {"action": name, "ok": True, "detail": str(detail or ""), "at": _iso()}


def holder(job_id: int) -> str:
    """Who holds the claim on a compensation still owed ("" if nobody)."""
    found = (
        Job.objects.filter(pk=job_id, compensated_at__isnull=True, compensation_claimed_at__isnull=False)
        .values_list("compensation_claimed_by", flat=True)
        .first()
    )
    return found or ""


class Claim:
    """The right to run a job's compensation, taken with one conditional UPDATE.

    A claim is free (never taken, or released after a failure) or stale (its holder stopped
    refreshing it); `token` names the holder, and every later write is conditional on it, so a
    holder whose claim was taken over cannot overwrite its successor's record.
    """

    def __init__(self, job_id: int, token: str, previous: str, entries: list, results: list) -> None:
        self.job_id, self.token, self.previous = job_id, token, previous
        self.remaining: list[dict[str, Any]] = list(entries)
        # A failed outcome is replaced by the next attempt's; done ones stay as the record.
        self.results: list[dict[str, Any]] = [o for o in results if o.get("ok")]
        self.failed: list[dict[str, Any]] = []

    @classmethod
    def take(cls, job_id: int, stale_before: datetime) -> Claim | None:
        before = Job.objects.filter(pk=job_id).values_list("compensation_claimed_by", flat=True).first()
        token = f"{socket.gethostname()} pid {os.getpid()} #{uuid.uuid4().hex[:8]}"
        won = (
            Job.objects.filter(pk=job_id, compensated_at__isnull=True)
            .filter(Q(compensation_claimed_at__isnull=True) | Q(compensation_claimed_at__lt=stale_before))
            .update(compensation_claimed_at=timezone.now(), compensation_claimed_by=token)
        )
        if won != 1:
            return None
        entries, results = Job.objects.values_list("compensation", "compensation_result").get(pk=job_id)
        return cls(job_id, token, before or "", entries or [], results or [])

    def record(self, entry: dict[str, Any], outcome: dict[str, Any]) -> bool:
        """Store one outcome at once; False if the claim was taken over meanwhile."""
        self.results.append(outcome)
        if outcome["ok"]:
            self.remaining.remove(entry)
        else:
            self.failed.append(entry)
        return self._update(
            compensation=self.remaining,
            compensation_result=self.results,
            compensation_claimed_at=timezone.now(),
        )

    def end(self, log_line: LogFn) -> None:
        """Done if nothing is owed; otherwise release the claim for the reaper's retry."""
        if not self.failed:
            self._update(compensated_at=timezone.now())
            return
        log_line(
            f"Compensation incomplete: {', '.join(e.get('action', '?') for e in self.failed)} "
            "will be retried by the reaper until it succeeds",
            Stream.STDERR,
        )
        self._update(compensation_claimed_at=None, compensation_claimed_by="")

    @contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Refresh the claim while actions run, so that only a dead or frozen holder's goes stale."""
        stop = threading.Event()
        every = float(getattr(settings, "JOB_HEARTBEAT_SECONDS", 5))
        thread = threading.Thread(target=self._keep, args=(stop, every), name=f"job-{self.job_id}-undo")
        thread.daemon = True
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def _keep(self, stop: threading.Event, every: float) -> None:
        try:
            while not stop.wait(every):
                try:
                    self._update(compensation_claimed_at=timezone.now())
                except DatabaseError:
                    log.warning("job %s: compensation claim not refreshed", self.job_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def _update(self, **fields: Any) -> bool:
        return (
            Job.objects.filter(
                pk=self.job_id, compensation_claimed_by=self.token, compensated_at__isnull=True
            ).update(**fields)
            == 1
        )


def pending_retry(stale_before: datetime | None = None) -> models.QuerySet[Job]:
    """Ended jobs that still owe undo actions and that nobody is running: a failed attempt released
    its claim, or its holder died (claim older than `stale_before`). A job ended by its runner, the
    reaper or a cancel always had its compensation attempted, so what is left here is owed."""
    stale_before = stale_before or timezone.now() - claim_timeout()
    return (
        Job.objects.filter(state__in=(State.FAILED, State.CANCELLED), compensated_at__isnull=True)
        .filter(Q(compensation_claimed_at__isnull=True) | Q(compensation_claimed_at__lt=stale_before))
        .exclude(compensation=[])
        .exclude(finished_at__isnull=True)
    )


def _iso() -> str:
    return timezone.now().isoformat()
