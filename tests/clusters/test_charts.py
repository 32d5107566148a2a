"""The site page's and the dashboard's charts: well-formed SVG with one bar per job (or per day and
outcome) at the right height, failures marked, and the same numbers as text for screen readers."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import charts
from panel.charts import PLOT_HEIGHT, Column, Series, bar_chart, nice_top
from tests import factories

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def svg_of(page: str, chart_id: str) -> ET.Element:
    """The chart's <svg> element, parsed as XML (it must be well-formed on its own)."""
    figure = re.search(rf'<figure class="chart" id="{chart_id}">(.*?)</figure>', page, re.S)
    assert figure, f"no chart {chart_id}"
    svg = re.search(r"<svg .*?</svg>", figure.group(1), re.S)
    assert svg, f"{chart_id} draws nothing"
    return ET.fromstring(svg.group(0))  # noqa: S314 - the panel's own page, not outside input


def bars(svg: ET.Element) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]


def table_rows(page: str, chart_id: str) -> list[list[str]]:
    table = re.search(
        rf'<div class="visually-hidden"><table id="{chart_id}-numbers">(.*?)</table>', page, re.S
    )
    assert table, f"{chart_id} has no text alternative"
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", table.group(1), re.S)
    return [[label, *re.findall(r"<td>(.*?)</td>", cells)] for label, cells in rows]


def update_job(site, *, state: str, downtime: float, update_s: float, ago_min: int):  # type: ignore[no-untyped-def]
    start = timezone.now() - datetime.timedelta(minutes=ago_min)
    steps = [
        {
            "name": "Scale to 0",
            "state": "succeeded",
            "started_at": start.isoformat(),
            "finished_at": start.isoformat(),
        },
        {
            "name": "Update",
            "state": state,
            "started_at": start.isoformat(),
            "finished_at": (start + datetime.timedelta(seconds=update_s)).isoformat(),
        },
    ]
    return factories.job(
        site,
        kind="module_update",
        state=state,
        created_at=start,
        steps=steps,
        result={"downtime_s": downtime, "modules": ["sale"]},
    )


def test_heights_follow_a_rounded_axis():  # type: ignore[no-untyped-def]
    assert [nice_top(v) for v in (0, 0.7, 3, 7, 40, 120, 2600)] == [1, 1, 5, 10, 50, 200, 5000]
    chart = bar_chart(
        id="c",
        title="t",
        desc="d",
        unit="s",
        series=[Series("a", "a")],
        columns=[Column("x", {"a": 10}), Column("y", {"a": 40}), Column("z", {"a": None})],
    )
    assert chart.top_value == 50
    assert [b.height for b in chart.bars] == [PLOT_HEIGHT * 10 / 50, PLOT_HEIGHT * 40 / 50, 0]
    assert [b.y + b.height for b in chart.bars] == [chart.baseline] * 3  # all stand on the axis


def test_the_site_page_draws_its_module_updates_and_deploys(personas):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    update_job(site, state="succeeded", downtime=40, update_s=25, ago_min=30)
    update_job(site, state="failed", downtime=20, update_s=12.5, ago_min=20)
    update_job(site, state="succeeded", downtime=10, update_s=5, ago_min=10)
    now = timezone.now()
    factories.job(site, kind="deploy", state="succeeded", started_at=now - datetime.timedelta(seconds=30))
    factories.job(site, kind="deploy", state="failed", started_at=now - datetime.timedelta(seconds=90))
    page = personas.client("viewer").get(reverse("site-detail", args=[site.slug])).content.decode()

    updates = svg_of(page, "chart-updates")
    assert updates.find(f"{SVG}title").text.startswith("Last 30 module updates")
    heights = [float(b.get("height")) for b in bars(updates)]  # oldest first: downtime, -u per job
    assert heights == [PLOT_HEIGHT * v / 50 for v in (40, 25, 20, 12.5, 10, 5)]
    failed = [b for b in bars(updates) if "failed" in b.get("class").split()]
    assert len(failed) == 2 and [
        m.text for m in updates.iter(f"{SVG}text") if m.get("class") == "chart-fail"
    ] == ["✗"]
    assert [row[1:] for row in table_rows(page, "chart-updates")] == [
        ["40", "25", "succeeded"],
        ["20", "12.5", "failed"],
        ["10", "5", "succeeded"],
    ]

    deploys = svg_of(page, "chart-deploys")
    drawn = bars(deploys)
    assert len(drawn) == 2 and "outcome-failed" in drawn[1].get("class")
    assert [row[2] for row in table_rows(page, "chart-deploys")] == ["succeeded", "failed"]
    took = [float(row[1]) for row in table_rows(page, "chart-deploys")]
    assert took[0] == pytest.approx(30, abs=2) and took[1] == pytest.approx(90, abs=2)


def test_a_site_without_jobs_says_so():  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    assert charts.module_updates(site).columns == [] and charts.deploys(site).columns == []


def test_the_dashboard_counts_jobs_per_day_by_outcome(personas, django_assert_num_queries):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    today = timezone.localdate()
    at = timezone.make_aware(datetime.datetime.combine(today, datetime.time(12)))
    for days_ago, state, n in [
        (0, "succeeded", 3),
        (0, "failed", 1),
        (2, "cancelled", 2),
        (2, "succeeded", 1),
    ]:
        for _ in range(n):
            factories.job(site, state=state, created_at=at - datetime.timedelta(days=days_ago))
    factories.job(site, state="failed", created_at=at - datetime.timedelta(days=30))  # out of the window
    factories.job(site, state="running", created_at=at)  # not ended: no outcome yet

    with django_assert_num_queries(1):
        chart = charts.jobs_per_day(today)
    by_day = {c.label: c.values for c in chart.columns}
    assert len(chart.columns) == 30 and chart.columns[-1].label == today.strftime("%m-%d")
    assert by_day[today.strftime("%m-%d")] == {"succeeded": 3, "failed": 1, "cancelled": 0}
    two_ago = (today - datetime.timedelta(days=2)).strftime("%m-%d")
    assert by_day[two_ago] == {"succeeded": 1, "failed": 0, "cancelled": 2}
    assert sum(sum(v.values()) for v in by_day.values()) == 7

    page = personas.client("viewer").get(reverse("dashboard")).content.decode()
    svg = svg_of(page, "chart-jobs-per-day")
    assert len(bars(svg)) == 30 * 3  # a segment per day and outcome, zero-high when none
    last = bars(svg)[-3:]  # today: stacked, succeeded at the bottom
    assert [float(b.get("height")) for b in last] == [PLOT_HEIGHT * 3 / 5, PLOT_HEIGHT * 1 / 5, 0]
    assert float(last[1].get("y")) + float(last[1].get("height")) == pytest.approx(float(last[0].get("y")))
    assert table_rows(page, "chart-jobs-per-day")[-1] == [today.strftime("%m-%d"), "3", "1", "0", "4"]


def test_the_partial_refreshes_do_not_draw_the_charts(personas):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    live = client.get(reverse("dashboard"), headers={"HX-Request": "true", "HX-Target": "dashboard-live"})
    assert live.status_code == 200 and "chart-jobs-per-day" not in live.content.decode()


def test_the_charted_step_is_the_one_the_update_runs_odoo_in():  # type: ignore[no-untyped-def]
    from clusters.sites.module_update.update import ModuleInstallRunner, ModuleUpdateRunner

    assert charts.UPDATE_STEP in ModuleUpdateRunner.plan and charts.UPDATE_STEP in ModuleInstallRunner.plan
