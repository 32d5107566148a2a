"""A job's steps as the job page shows them: state, start, and elapsed time (running ones count up)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from jobs.models import Job


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def timeline(job: Job) -> list[dict[str, Any]]:
    rows = []
    now = timezone.now()
    for step in job.steps or []:
        started, finished = _when(step.get("started_at")), _when(step.get("finished_at"))
        elapsed = ((finished or now) - started).total_seconds() if started else None
        rows.append(
            {
                "name": step.get("name", "?"),
                "state": step.get("state", "pending"),
                "started_at": started,
                "elapsed": elapsed,
                "current": step.get("state") == "running",
            }
        )
    return rows
