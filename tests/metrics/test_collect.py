"""What /metrics says, against what the database holds; checked by promtool."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clusters.approvals.models import Decision, ManifestChange
from jobs.logs.store import LogWriter
from jobs.models import Job, Stream
from panel import audit
from panel.metrics import events
from tests import factories as f
from tests.metrics.helpers import promtool_check, samples, scrape, value

pytestmark = pytest.mark.django_db


def _finished(site, kind: str, state: str, seconds: float, **kw):  # type: ignore[no-untyped-def]
    end = timezone.now()
    return f.job(
        site, kind=kind, state=state, started_at=end - timedelta(seconds=seconds), finished_at=end, **kw
    )


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    cluster = f.cluster(name="prod", status="ok")
    f.cluster(name="idle", status="unreachable")
    healthy = f.site(cluster, status="healthy")
    drifted = f.site(cluster, status="degraded", drift=[{"name": "x"}, {"name": "y"}])
    f.node(cluster)
    f.node(cluster, state="down")
    f.node(cluster, availability="drain")
    _finished(healthy, "deploy", "succeeded", 10)
    _finished(healthy, "deploy", "succeeded", 100)
    _finished(healthy, "deploy", "failed", 3)
    _finished(drifted, "module_update", "succeeded", 40, result={"downtime_s": 7.5})
    _finished(drifted, "module_update", "succeeded", 50, result={"downtime_s": 12.25})
    f.job(healthy, kind="backup", created_at=timezone.now() - timedelta(seconds=90))
    return cluster, healthy, drifted


def test_state_figures_match_the_database(world) -> None:  # type: ignore[no-untyped-def]
    found = samples(scrape())
    assert value(found, "panel_jobs", kind="deploy", state="succeeded", cluster="prod") == 2
    assert value(found, "panel_jobs", kind="deploy", state="failed", cluster="prod") == 1
    assert value(found, "panel_jobs", kind="restore", state="running", cluster="idle") == 0
    assert value(found, "panel_job_queue_depth") == 1
    assert 85 <= value(found, "panel_job_queue_oldest_age_seconds") < 150
    assert value(found, "panel_sites", cluster="prod", status="healthy") == 1
    assert value(found, "panel_sites", cluster="prod", status="degraded") == 1
    assert value(found, "panel_sites", cluster="idle", status="healthy") == 0
    assert value(found, "panel_sites_drifted", cluster="prod") == 1
    assert value(found, "panel_sites_drifted", cluster="idle") == 0
    assert value(found, "panel_nodes", cluster="prod") == 3
    assert value(found, "panel_nodes_ready", cluster="prod") == 1
    assert value(found, "panel_cluster_up", cluster="prod") == 1
    assert value(found, "panel_cluster_up", cluster="idle") == 0


def test_histograms_from_finished_jobs(world) -> None:  # type: ignore[no-untyped-def]
    _, _, drifted = world
    found = samples(scrape())
    deploys = {"kind": "deploy", "state": "succeeded", "cluster": "prod"}
    assert value(found, "panel_job_duration_seconds_count", **deploys) == 2
    assert value(found, "panel_job_duration_seconds_bucket", **deploys, le="15.0") == 1
    assert value(found, "panel_job_duration_seconds_bucket", **deploys, le="120.0") == 2
    assert value(found, "panel_job_duration_seconds_sum", **deploys) == pytest.approx(110, abs=0.01)
    updates = {"kind": "module_update", "state": "succeeded", "cluster": "prod"}
    assert value(found, "panel_module_update_downtime_seconds_count", **updates) == 2
    assert value(found, "panel_module_update_downtime_seconds_bucket", **updates, le="10.0") == 1
    assert value(found, "panel_module_update_downtime_seconds_sum", **updates) == pytest.approx(19.75)
    # The last one by creation: 12.25 was created after 7.5.
    last = value(found, "panel_module_update_last_downtime_seconds", cluster="prod", site=drifted.slug)
    assert last == 12.25


def test_counters_of_reaper_gate_and_log_lines(world) -> None:  # type: ignore[no-untyped-def]
    cluster, healthy, _ = world
    job = Job.objects.filter(kind="deploy", state="failed").get()
    audit.record("job.reap", actor="system", target=job, job=job, site=healthy, cluster=cluster)
    audit.record("job.compensate", actor="system", target=job, job=job, site=healthy, cluster=cluster)
    common = {"site": healthy, "source": "upload", "source_name": "a.zip", "series": "17.0", "verdict": {}}
    change = ManifestChange.objects.create(state="pending", passes=True, **common)
    ManifestChange.objects.create(state="blocked", passes=False, **common)
    Decision.objects.create(
        change=change, kind="approve", actor_name="ann", state_before="pending", state_after="approved"
    )
    writer = LogWriter(job.pk, last_seq=100)
    writer.write("one\ntwo")
    writer.write("oops", Stream.STDERR)
    writer.flush()
    events.notification_delivered("email", "sent")
    found = samples(scrape())
    assert value(found, "panel_reaper_actions_total", action="reap", cluster="prod") == 1
    assert value(found, "panel_reaper_actions_total", action="compensate", cluster="prod") == 1
    assert value(found, "panel_gate_verdicts_total", verdict="pass") == 1
    assert value(found, "panel_gate_verdicts_total", verdict="block") == 1
    assert value(found, "panel_gate_decisions_total", decision="approve") == 1
    assert value(found, "panel_gate_decisions_total", decision="override") == 0
    assert value(found, "panel_job_log_lines_total", stream="stdout") == 2
    assert value(found, "panel_job_log_lines_total", stream="stderr") == 1
    assert value(found, "panel_notification_deliveries_total", channel="email", status="sent") == 1
    assert value(found, "panel_metrics_source_up", source="redis") == 1


def test_promtool_accepts_the_output(world) -> None:  # type: ignore[no-untyped-def]
    events.notification_delivered("webhook", "failed")
    promtool_check(scrape())


def test_promtool_accepts_an_empty_panel() -> None:
    promtool_check(scrape())


def test_series_do_not_grow_with_jobs(world) -> None:  # type: ignore[no-untyped-def]
    """Labels are bounded: 500 more jobs (ids, sites of their own) add no series."""
    cluster, healthy, _ = world
    before = samples(scrape())
    end = timezone.now()
    Job.objects.bulk_create(
        Job(
            kind="deploy",
            state="succeeded",
            cluster=cluster,
            site_slug=f"gone{i}",
            mutating=False,
            started_at=end - timedelta(seconds=i),
            finished_at=end,
        )
        for i in range(500)
    )
    after = samples(scrape())
    assert set(after) == set(before)
    assert value(after, "panel_jobs", kind="deploy", state="succeeded", cluster="prod") == 502


def test_a_scrape_costs_a_fixed_number_of_queries(world) -> None:  # type: ignore[no-untyped-def]
    cluster, _, _ = world
    with CaptureQueriesContext(connection) as few:
        scrape()
    for _ in range(20):
        site = f.site(cluster)
        _finished(site, "module_update", "failed", 5, result={"downtime_s": 1})
    with CaptureQueriesContext(connection) as more:
        scrape()
    assert len(more) == len(few) <= 15


def test_redis_away_keeps_the_database_figures(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    found = samples(scrape())
    assert value(found, "panel_metrics_source_up", source="redis") == 0
    assert value(found, "panel_jobs", kind="deploy", state="succeeded", cluster="prod") == 2
