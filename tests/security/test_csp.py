"""Every HTML page carries the Content-Security-Policy (panel/csp.py), and no template holds what that
policy blocks: inline styles and scripts, event-handler attributes, and anything htmx would have to
eval (an hx-trigger filter, hx-on, js: values). The browser tests watch for violations on real
pages (tests/browser/test_csp.py); this catches a regression without a browser."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from panel.csp import POLICY
from tests import factories

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
BLOCKED = {
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "a <style> element": re.compile(r"<style", re.I),
    "an inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "an event-handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "an hx-on attribute": re.compile(r"\shx-on[:-]", re.I),
    "hx-vars (evaluated)": re.compile(r"\shx-vars\s*=", re.I),
    "a javascript: or js: value": re.compile(r"=\s*[\"']\s*(javascript|js):", re.I),
}
TRIGGER = re.compile(r"hx-trigger=(?:\"([^\"]*)\"|'([^']*)')", re.I)
#: `event[expr]` or `every 5s [expr]`; a `[` later in a spec is a CSS selector (`from:find input[type=x]`).
FILTER = re.compile(r"^\s*(every\s+\S+|[^\s\[,]+)\s*\[")


def problems(line: str) -> list[str]:
    found = [what for what, pattern in BLOCKED.items() if pattern.search(line)]
    for match in TRIGGER.finditer(line):
        if any(FILTER.match(spec) for spec in (match.group(1) or match.group(2) or "").split(",")):
            found.append("an hx-trigger filter (htmx evals it)")
    return found


def test_the_policy_allows_no_inline_code_and_no_eval():  # type: ignore[no-untyped-def]
    directives = dict(part.strip().split(" ", 1) for part in POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in POLICY


def test_the_scan_tells_a_filter_from_a_selector():  # type: ignore[no-untyped-def]
    assert problems('<div hx-trigger="every 15s [document.hidden]">')
    assert problems("<b hx-trigger='click[ctrlKey]'>")
    assert problems("<b hx-trigger=\"load, keyup[key=='Enter'] from:body\">")
    assert not problems('<form hx-trigger="change, input changed from:find input[type=search], submit">')
    assert problems('<p style="x">') and problems("<script>go()</script>") and problems('<a onclick="x">')
    assert not problems('<script src="/static/x.js" defer></script>')


def test_no_template_holds_what_the_policy_blocks():  # type: ignore[no-untyped-def]
    found = [
        f"{path.relative_to(TEMPLATES)}:{n}: {what}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for what in problems(line)
    ]
    assert found == [], "blocked by the Content-Security-Policy:\n  " + "\n  ".join(found)


def pages(site, job) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        reverse("dashboard"),
        reverse("site-list"),
        reverse("site-detail", kwargs={"slug": site.slug}),
        reverse("cluster-detail", kwargs={"pk": site.cluster.pk}),
        reverse("job-list"),
        reverse("job-detail", kwargs={"job_id": job.pk}),
        reverse("audit-list"),
        reverse("site-create"),
    ]


def assert_protected(response, url: str) -> None:  # type: ignore[no-untyped-def]
    assert response["Content-Security-Policy"] == POLICY, url
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url


def test_every_page_and_fragment_carries_the_policy(personas):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    job = factories.job(site, kind="deploy", state="running")
    client = personas.client("admin")
    for url in pages(site, job):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_protected(response, url)
        fragment = client.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200, url
        assert_protected(fragment, f"{url} (htmx)")
    for url in (reverse("login"), "/sites/no-such-site/"):
        assert_protected(Client().get(url, follow=True), url)
    assert_protected(client.get("/sites/no-such-site/"), "404")


def test_a_csrf_failure_page_has_no_inline_style(personas):  # type: ignore[no-untyped-def]
    """Django's own CSRF page styles itself inline; templates/403_csrf.html replaces it."""
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x"})
    assert response.status_code == 403
    assert_protected(response, "csrf failure")
    assert "<style" not in response.content.decode()


def test_htmx_is_configured_never_to_eval(personas):  # type: ignore[no-untyped-def]
    body = personas.client("viewer").get(reverse("dashboard")).content.decode()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", body)
    assert meta, "templates/base.html lost its htmx-config"
    config = json.loads(unescape(meta.group(1)))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert "data-poll-visible" in body, "the dashboard should poll only while visible (panel.js)"
