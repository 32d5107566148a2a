"""The Content-Security-Policy holds in a real browser: the pages with htmx in them (live regions,
an htmx form, a job's log streamed over server-sent events) run without one violation, and polling
pauses in a hidden tab without an hx-trigger filter (which htmx would have to eval)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from panel.csp import POLICY
from tests import factories
from tests.browser.conftest import log_in, make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_htmx_pages_and_a_live_log_break_no_policy(page, panel_worker, csp_violations):  # type: ignore[no-untyped-def]
    from jobs.control import start

    make_user("hana", "operator")
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    response = page.goto("/login/")
    assert response is not None and response.headers["content-security-policy"] == POLICY
    log_in(page, "hana")

    for url in ("/", "/clusters/", f"/clusters/{site.cluster.pk}/", "/sites/", "/jobs/", "/changes/"):
        page.goto(url)
        expect(page.locator("main h1").first).to_be_visible()

    page.goto(f"/sites/{site.slug}/")  # an htmx form: the answer is swapped into the page
    page.get_by_label("Add a domain").fill("shop.acme.example.com")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#site-domains")).to_contain_text("shop.acme.example.com")

    page.goto("/audit/")  # the filter form searches as one types
    page.get_by_label("Search").fill("acme")
    expect(page).to_have_url(re.compile(r"q=acme"))

    job = start("test.lines", params={"count": 80, "delay": 0.1})
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("#job-log .live")).to_have_text("live")  # streamed, not read at the end
    expect(page.locator("#log-lines")).to_contain_text("line 80", timeout=60_000)
    expect(page.locator("#job-log .live")).to_have_text("Succeeded", timeout=30_000)
    assert csp_violations == []


SEEN_AS = "s => Object.defineProperty(document, 'visibilityState', {value: s, configurable: true})"


def seen_as(page, state: str) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(SEEN_AS, state)


def test_polling_pauses_while_the_tab_is_hidden(page):  # type: ignore[no-untyped-def]
    """The job list refreshes every 5 s (`data-poll-visible`); panel.js cancels the refresh while the
    document is hidden, and lets it through again once it is visible."""
    make_user("ivan", "viewer")
    log_in(page, "ivan")
    page.goto("/jobs/")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("hx-request") else None)
    seen_as(page, "hidden")
    page.wait_for_timeout(6_000)
    assert polls == [], f"polled while hidden: {polls}"
    seen_as(page, "visible")
    with page.expect_request(lambda r: bool(r.headers.get("hx-request")), timeout=7_000):
        pass
