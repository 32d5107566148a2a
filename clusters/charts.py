"""The charts of a site's page and of the dashboard, each from one bounded query.

- Module updates: the last 30 (`-u` and `-i`), each with its downtime window (`downtime_s` in the
  job's result: replicas at 0 until healthy again, the figure /metrics histograms) and its `-u` run
  (the job's "Update" step, from its start to its end in the timeline). A failure is marked.
- Deploys: the last 30, each with its run time, coloured by outcome.
- Dashboard: the jobs that ended on each of the last 30 days, stacked by outcome.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from jobs.models import Job, Kind, State
from panel.charts import Chart, Column, Series, bar_chart

SHOWN = 30
UPDATE_KINDS = (Kind.MODULE_UPDATE, Kind.MODULE_INSTALL)
OUTCOMES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
UPDATE_STEP = "Update"  # the step of ModuleUpdateRunner.plan that runs odoo -u / -i


def module_updates(site: Any) -> Chart:
    rows = (
        Job.objects.filter(site=site, kind__in=UPDATE_KINDS, finished_at__isnull=False)
        .annotate(downtime=KT("result__downtime_s"))
        .order_by("-created_at", "-id")
        .values("id", "state", "steps", "downtime")[:SHOWN]
    )
    columns = [
        Column(
            f"#{row['id']}",
            {"downtime": _float(row["downtime"]), "update": step_seconds(row["steps"], UPDATE_STEP)},
            note=row["state"],
            failed=row["state"] == State.FAILED,
        )
        for row in reversed(rows)
    ]
    return bar_chart(
        id="chart-updates",
        title=f"Last {SHOWN} module updates: downtime and odoo -u run, in seconds",
        desc=_desc(columns, "module updates", "failed"),
        unit="s",
        series=[Series("downtime", "downtime window"), Series("update", "odoo -u run")],
        columns=columns,
        empty="No module update yet.",
    )


def deploys(site: Any) -> Chart:
    rows = (
        Job.objects.filter(site=site, kind=Kind.DEPLOY, finished_at__isnull=False, started_at__isnull=False)
        .annotate(took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
        .order_by("-created_at", "-id")
        .values("id", "state", "took")[:SHOWN]
    )
    columns = [
        Column(
            f"#{row['id']}",
            {"took": _seconds(row["took"])},
            note=row["state"],
            failed=row["state"] == State.FAILED,
            css=f"outcome-{row['state']}",
        )
        for row in reversed(rows)
    ]
    return bar_chart(
        id="chart-deploys",
        title=f"Last {SHOWN} deploys: run time in seconds, by outcome",
        desc=_desc(columns, "deploys", "failed"),
        unit="s",
        series=[Series("took", "run time")],
        columns=columns,
        legend=[(f"outcome-{o.value}", f"run time, {o.label.lower()}") for o in OUTCOMES],
        empty="No deploy yet.",
    )


def jobs_per_day(today: datetime.date | None = None) -> Chart:
    """Jobs ended per day (by the day they were created, in the panel's time zone), by outcome."""
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=SHOWN - 1)
    since = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    counts = (
        Job.objects.filter(created_at__gte=since, state__in=OUTCOMES)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_day: dict[datetime.date, dict[str, float | None]] = {}
    for day, state, n in counts:
        per_day.setdefault(day, {})[state] = n
    columns = []
    for offset in range(SHOWN):
        day = first + datetime.timedelta(days=offset)
        values = {o.value: float(per_day.get(day, {}).get(o.value) or 0) for o in OUTCOMES}
        columns.append(
            Column(day.strftime("%m-%d"), values, note=str(int(sum(v or 0 for v in values.values()))))
        )
    total = {o.label.lower(): sum(c.values[o.value] or 0 for c in columns) for o in OUTCOMES}
    return bar_chart(
        id="chart-jobs-per-day",
        title=f"Jobs per day over the last {SHOWN} days, by outcome",
        desc=f"{SHOWN} days: " + ", ".join(f"{int(n)} {label}" for label, n in total.items()) + ".",
        unit="jobs",
        series=[Series(o.value, o.label.lower()) for o in OUTCOMES],
        columns=columns,
        stacked=True,
        column_heading="Day",
        note_heading="Total",
    )


def step_seconds(steps: Any, name: str) -> float | None:
    """How long the timeline's step `name` ran (None when it did not both start and end)."""
    for step in steps or []:
        if step.get("name") == name and step.get("started_at") and step.get("finished_at"):
            started = datetime.datetime.fromisoformat(step["started_at"])
            return round((datetime.datetime.fromisoformat(step["finished_at"]) - started).total_seconds(), 1)
    return None


def _seconds(took: Any) -> float | None:
    return None if took is None else round(took.total_seconds(), 1)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 1)
    except (TypeError, ValueError):
        return None


def _desc(columns: list[Column], what: str, bad: str) -> str:
    failed = sum(c.failed for c in columns)
    return f"{len(columns)} {what}, oldest first; {failed} {bad}. The numbers are in the table that follows."
