"""Compensation: named undo actions a job records *before* it changes something.

A runner calls `self.set_compensation("restore_replicas", service="acme_odoo", replicas=2)` before it
scales a site to 0. The entry is written to the Job row at once, so that whoever ends the job (the
runner on failure or cancel, or the reaper after the worker died) can undo it without knowing the
runner's code. Actions run last-recorded-first, and at most once per job: `compensated_at` is
claimed with compare-and-swap before the first action runs.

Register an action where the code it needs lives (e.g. the sites work registers restore_replicas
with the docker client), in a module that is imported at startup (`<app>/runners.py` is):

    @compensation("restore_replicas")
    def restore_replicas(job: Job, log: LogFn, *, service: str, replicas: int) -> str:
        ...  # idempotent: it may find the service already restored
        return "acme_odoo back at 2 replicas"
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from django.db import models
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


def run_compensation(job: Job, *, log_line: LogFn, reason: str) -> bool:
    """Run the job's recorded undo actions once; False if someone already did (or nothing to do).

    One failing action does not stop the others: each undoes something independent, and a site
    left at 0 replicas is worse than a half-finished undo. Outcomes go to compensation_result.
    An action that raised (e.g. the engine was unreachable) is not lost: it stays in
    `compensation` and the claim is released, so the reaper's next pass retries it (actions are
    idempotent). The ones that succeeded are dropped, so they never run twice.
    """
    claimed = Job.objects.filter(pk=job.pk, compensated_at__isnull=True).update(compensated_at=timezone.now())
    if claimed != 1:
        return False
    entries = list(Job.objects.values_list("compensation", flat=True).get(pk=job.pk) or [])
    if not entries:
        return True
    log_line(
        f"Compensating ({reason}): {', '.join(e.get('action', '?') for e in reversed(entries))}",
        Stream.SYSTEM,
    )
    outcomes = []
    at = timezone.now().isoformat()
    for entry in reversed(entries):
        name, args = entry.get("action", ""), entry.get("args") or {}
        fn = _ACTIONS.get(name)
        try:
            if fn is None:
                raise LookupError(f"no compensation action named {name!r} is registered in this process")
            detail = fn(job, log_line, **args)
            outcomes.append({"action": name, "ok": True, "detail": str(detail or ""), "at": at})
            log_line(f"Compensation {name}: done{f' ({detail})' if detail else ''}", Stream.SYSTEM)
        except Exception as exc:
            log.exception("job %s: compensation %s failed", job.pk, name)
            outcomes.append({"action": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}", "at": at})
            log_line(f"Compensation {name} FAILED: {type(exc).__name__}: {exc}", Stream.STDERR)
    failed = [e for e, o in zip(reversed(entries), outcomes, strict=True) if not o["ok"]]
    if failed:
        log_line(
            f"Compensation incomplete: {', '.join(e.get('action', '?') for e in failed)} "
            "will be retried by the reaper until it succeeds",
            Stream.STDERR,
        )
        Job.objects.filter(pk=job.pk).update(
            compensation_result=outcomes, compensation=list(reversed(failed)), compensated_at=None
        )
    else:
        Job.objects.filter(pk=job.pk).update(compensation_result=outcomes)
    return True


def pending_retry() -> models.QuerySet[Job]:
    """Ended jobs whose compensation failed and was released for a retry (see run_compensation).
    A job ended by its runner, the reaper or a cancel always had its compensation attempted, so
    an ended job with entries left and no claim is one whose undo is still owed."""
    return (
        Job.objects.filter(state__in=(State.FAILED, State.CANCELLED), compensated_at__isnull=True)
        .exclude(compensation=[])
        .exclude(finished_at__isnull=True)
    )
