"""Histograms and counters of what happened, derived from the rows that record it.

- Job durations (started_at to finished_at) and module update downtimes (`downtime_s` in the job's
  result) over every finished job in the table, not a recent window: a histogram is a counter, and
  a window would make its buckets fall as old jobs leave it, which Prometheus reads as resets.
  Jobs are few (each is a person's action), so one GROUP BY over the table stays cheap; should
  jobs ever be pruned, the drop is read as a counter reset, which rate() handles.
- Reaper actions from the audit log (append-only, so its counts only grow): `job.reap` when it
  ended a job whose worker died or whose message was lost, `job.compensate` when it undid one.
- Gate verdicts (a change passes the checks or is blocked) and people's decisions on changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from clusters.approvals.models import Decision, ManifestChange
from clusters.models import Site
from jobs.models import Job, Kind
from panel.models import AuditEvent

#: Seconds. Jobs run from seconds (a scale) to hours (the update of a large database).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
#: Seconds a site serves nobody during a module update: the figure users feel.
DOWNTIME_BUCKETS = (5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
REAPER_ACTIONS = {"job.reap": "reap", "job.compensate": "compensate"}


def collect() -> Iterator[Metric]:
    yield job_durations()
    yield from downtimes()
    yield reaper_actions()
    yield from gate()


def _histogram(name: str, doc: str, labels: dict[str, str], rows: Any, bounds: tuple[int, ...]) -> Metric:
    """A histogram family from rows holding cumulative counts `le0`.., a count `n` and a sum
    `total`; `labels` maps each label to the row's key for it."""
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for row in rows:
        buckets = [(str(float(b)), row[f"le{i}"]) for i, b in enumerate(bounds)] + [("+Inf", row["n"])]
        family.add_metric([row[key] or "" for key in labels.values()], buckets, _seconds(row["total"]))
    return family


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _buckets(field: str, bounds: tuple[int, ...], unit: Any = float) -> dict[str, Count]:
    return {f"le{i}": Count("id", filter=Q(**{f"{field}__lte": unit(b)})) for i, b in enumerate(bounds)}


def job_durations() -> Metric:
    """Run time of every finished job that started, by kind, state and cluster: one query."""
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = (
        Job.objects.filter(finished_at__isnull=False, started_at__isnull=False)
        .annotate(took=took)
        .order_by()
        .values("kind", "state", "cluster__name")
        .annotate(n=Count("id"), total=Sum("took"), **_buckets("took", DURATION_BUCKETS, _delta))
        .order_by("kind", "state", "cluster__name")
    )
    return _histogram(
        "panel_job_duration_seconds",
        "Run time of finished jobs (start to end), by kind, state and cluster.",
        {"kind": "kind", "state": "state", "cluster": "cluster__name"},
        rows,
        DURATION_BUCKETS,
    )


def _delta(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def _downtime_jobs() -> Any:
    """Module updates (and installs) whose result holds the site's downtime."""
    return Job.objects.filter(
        kind__in=(Kind.MODULE_UPDATE, Kind.MODULE_INSTALL), result__has_key="downtime_s"
    ).annotate(downtime=Cast(KT("result__downtime_s"), FloatField()))


def downtimes() -> Iterator[Metric]:
    """The downtime of every module update, as a histogram by kind, outcome and cluster, and the last
    one of each site (the site label is bounded by the number of sites): two queries, the second
    one index lookup per site (job_site_recent)."""
    rows = (
        _downtime_jobs()
        .order_by()
        .values("kind", "state", "cluster__name")
        .annotate(n=Count("id"), total=Sum("downtime"), **_buckets("downtime", DOWNTIME_BUCKETS))
        .order_by("kind", "state", "cluster__name")
    )
    yield _histogram(
        "panel_module_update_downtime_seconds",
        "Seconds a site served nobody during a module update or install, by kind, outcome and cluster.",
        {"kind": "kind", "state": "state", "cluster": "cluster__name"},
        rows,
        DOWNTIME_BUCKETS,
    )
    latest = (
        _downtime_jobs().filter(site=OuterRef("pk")).order_by("-created_at", "-id").values("downtime")[:1]
    )
    last = GaugeMetricFamily(
        "panel_module_update_last_downtime_seconds",
        "Downtime of each site's last module update.",
        labels=["cluster", "site"],
    )
    sites = (
        Site.objects.annotate(last=Subquery(latest))
        .filter(last__isnull=False)
        .order_by("cluster__name", "slug")
    )
    for cluster, slug, seconds in sites.values_list("cluster__name", "slug", "last"):
        last.add_metric([cluster, slug], seconds)
    yield last


def reaper_actions() -> Metric:
    """What the reaper did, counted in the audit log (index audit_action_time)."""
    family = CounterMetricFamily(
        "panel_reaper_actions",
        "Jobs the reaper ended or undid, by action and cluster.",
        labels=["action", "cluster"],
    )
    rows = (
        AuditEvent.objects.filter(action__in=REAPER_ACTIONS)
        .order_by()
        .values_list("action", "cluster_name")
        .annotate(n=Count("id"))
        .order_by("action", "cluster_name")
    )
    for action, cluster, n in rows:
        family.add_metric([REAPER_ACTIONS[action], cluster], n)
    return family


def gate() -> Iterator[Metric]:
    """The gate's verdict on each change submitted, and the decisions people took on them. Counts
    of rows: a site's deletion removes its changes, which Prometheus reads as a counter reset."""
    verdicts = CounterMetricFamily(
        "panel_gate_verdicts", "Changes the gate checked, by verdict (pass or block).", labels=["verdict"]
    )
    passed = dict(ManifestChange.objects.order_by().values_list("passes").annotate(n=Count("id")))
    verdicts.add_metric(["pass"], passed.get(True, 0))
    verdicts.add_metric(["block"], passed.get(False, 0))
    yield verdicts
    decisions = CounterMetricFamily(
        "panel_gate_decisions", "Decisions people took on changes, by kind.", labels=["decision"]
    )
    taken = dict(Decision.objects.order_by().values_list("kind").annotate(n=Count("id")))
    for kind in Decision.Kind.values:
        decisions.add_metric([kind], taken.get(kind, 0))
    yield decisions
