"""The charts in a real browser: drawn (inline SVG, no script), within the page's policy, readable in
the screenshots, and without a serious accessibility violation (axe-core)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import log_in, make_user, serious_violations, shoot
from tests.clusters.test_charts import update_job

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def history(site) -> None:  # type: ignore[no-untyped-def]
    """Twelve module updates (two failed) and eight deploys (one failed) over the last days."""
    for n in range(12):
        state = "failed" if n in (3, 8) else "succeeded"
        update_job(
            site, state=state, downtime=20 + 7 * (n % 5), update_s=12 + 5 * (n % 4), ago_min=60 * 9 * (12 - n)
        )
    now = timezone.now()
    for n in range(8):
        started = now - datetime.timedelta(days=8 - n, seconds=30 + 11 * n)
        state = "failed" if n == 5 else "succeeded"
        factories.job(
            site,
            kind="deploy",
            state=state,
            started_at=started,
            created_at=started,
            finished_at=started + datetime.timedelta(seconds=30 + 11 * n),
        )


def test_the_site_page_and_the_dashboard_draw_their_charts(page):  # type: ignore[no-untyped-def]
    make_user("vera", "viewer")
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    history(site)
    log_in(page, "vera")

    page.goto(f"/sites/{site.slug}/")
    updates = page.locator("#chart-updates svg")
    expect(updates).to_be_visible()
    assert updates.locator("rect.bar").count() == 24
    assert page.locator("#chart-updates text.chart-fail").count() == 2
    assert page.locator("#chart-deploys rect.bar").count() == 8
    expect(page.locator("#chart-updates-numbers")).to_be_attached()
    hidden = page.locator("#chart-updates .visually-hidden").bounding_box()
    assert hidden is not None and hidden["width"] <= 1 and hidden["height"] <= 1
    page.locator("#chart-updates").scroll_into_view_if_needed()
    shoot(page, "charts-site")
    page.locator("#chart-updates").screenshot(path=str(page_dir() / "charts-site-updates.png"))
    assert serious_violations(page) == []

    page.goto("/")
    expect(page.locator("#chart-jobs-per-day svg")).to_be_visible()
    assert page.locator("#chart-jobs-per-day rect.bar").count() == 90
    page.locator("#chart-jobs-per-day").screenshot(path=str(page_dir() / "charts-dashboard.png"))
    assert serious_violations(page) == []


def page_dir():  # type: ignore[no-untyped-def]
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
