"""No template text reaches a reader: every page of the panel, as every role, in its empty, full and
error states, read in headless Chromium, shows none of `{#`, `#}`, `{%`, `{{`.

Django's `{# #}` comment does not span lines: a two-line one is printed as text (the dashboard
showed one to every user). The walk covers every named URL of the URLconf (a test fails when a new
one is neither walked nor named in SKIPPED with its reason), every link those pages show, the
forms submitted empty (their error state), a 404, a 403 and lists with nothing in them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import factories
from tests.browser.conftest import log_in, make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MARKERS = re.compile(r"\{#|#\}|\{%|%\}|\{\{|\}\}")
ROLES = ("viewer", "operator", "approver", "admin")
#: Named URLs the walk does not open in a tab, and why.
SKIPPED = {
    "logout": "ends the walk's session",
    "healthz": "plain text for probes",
    "job-events": "a server-sent event stream, never a page",
    "job-log-download": "a text download",
    "audit-export-csv": "a download",
    "audit-export-json": "a download",
    "api-change-submit": "JSON API",
    "api-site-check": "JSON API",
    "api-change-detail": "JSON API",
}
#: Forms whose error state (submitted empty, browser validation off) is read too.
FORMS = ("cluster-create", "site-create", "domain-create", "user-create", "change-submit", "site-scale")
#: Lists read with a search that matches nothing.
SEARCHED = ("dashboard", "site-list", "cluster-list", "domain-list", "job-list", "change-list", "audit-list")
READ_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def named_patterns(resolver: URLResolver | None = None) -> Iterator[URLPattern]:
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from named_patterns(entry)
        elif entry.name:
            yield entry


def seed() -> dict[str, object]:
    """A small fleet with one of everything a page can show."""
    from clusters.approvals import tokens
    from panel.audit.store import record

    admin = make_user("ada", "admin")
    for role in ROLES[:-1]:
        make_user(f"{role}-walker", role)
    cluster = factories.cluster(name="prod", status="ok")
    factories.node(cluster, hostname="manager1", role="manager", address="10.0.0.1")
    factories.node(cluster, hostname="worker1", state="down", address="10.0.0.2")
    site = factories.site(
        cluster,
        slug="acme",
        replicas=2,
        installed_modules={"base": ["installed", "19.0.1.3"], "sale": ["installed", "19.0.1.2"]},
        module_depends={"sale": ["base"]},
        modules_read_at=READ_AT,
    )
    domain = factories.domain(site, "shop.acme.example.com")
    backup = site.backups.create(filename="acme-20261201.dump", size_bytes=12_345_678)
    jobs = [
        factories.job(site, kind=kind, state=state, created_by_name="ada", result=result)
        for kind, state, result in [
            ("deploy", "succeeded", {}),
            ("module_update", "failed", {"error": "odoo -u exited 255"}),
            ("scale", "cancelled", {}),
            ("backup", "queued", {}),
        ]
    ]
    token, _ = tokens.create(admin, "ci for acme")
    record("site.create", actor=admin, target=site, after={"slug": site.slug})
    changes = [_change(site, admin, depends) for depends in (["base"], ["base", "sale_subscription"])]
    channel = _channel(site)
    return {
        "cluster": cluster,
        "site": site,
        "domain": domain,
        "backup": backup,
        "jobs": jobs,
        "token": token,
        "user": admin,
        "changes": changes,
        "channel": channel,
    }


def _channel(site):  # type: ignore[no-untyped-def]
    """A notification channel with one delivery sent and one failed."""
    from panel.notify.models import Channel, Delivery

    channel = Channel.objects.create(
        name="ops-hook", kind=Channel.Kind.WEBHOOK, url="https://hooks.example.com/panel", secret="s3cret"
    )
    Delivery.objects.create(channel=channel, event="job.failed", payload={"site": site.slug}, status="sent")
    Delivery.objects.create(
        channel=channel, event="node.down", payload={}, status="failed", attempts=5, last_error="HTTP 500"
    )
    return channel


def _change(site, user, depends):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from clusters.approvals import services
    from clusters.approvals.intake import evaluate_archive
    from clusters.approvals.models import ChangeSource
    from tests.changes.conftest import small_zip

    archive = SimpleUploadedFile("change.zip", small_zip(depends, name="sale"))
    return services.submit(site, evaluate_archive(site, archive), user=user, source=ChangeSource.UPLOAD)


def urls_of(pattern: URLPattern, seeded: dict) -> list[str]:  # type: ignore[type-arg]
    """Every address of one named URL that the seeded objects give."""
    keys = set(pattern.pattern.regex.groupindex)
    if not keys:
        return [reverse(pattern.name)]
    owner = pattern.name.split("-")[0]
    owners = {"cluster": "cluster", "domain": "domain", "user": "user", "notify": "channel"}
    values: dict[str, list[object]] = {
        "slug": [seeded["site"].slug],
        "backup_id": [seeded["backup"].pk],
        "job_id": [job.pk for job in seeded["jobs"]],
        "change_id": [change.pk for change in seeded["changes"]],
        "token_id": [seeded["token"].pk],
    }
    if "pk" in keys:
        values["pk"] = [seeded[owners[owner]].pk]
    urls = []
    for i in range(max(len(values[k]) for k in keys)):
        urls.append(reverse(pattern.name, kwargs={k: values[k][min(i, len(values[k]) - 1)] for k in keys}))
    return urls


def leaked(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Template markers in what the page shows (scripts and styles left out; hidden parts kept)."""
    text = page.evaluate(
        """() => { const body = document.body.cloneNode(true);
                   body.querySelectorAll('script, style, template').forEach(e => e.remove());
                   return body.textContent + '\\n' + document.title; }"""
    )
    return sorted({text[max(0, m.start() - 40) : m.end() + 40].strip() for m in MARKERS.finditer(text)})


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Let htmx finish what a page loads after itself (its live parts); a stream is not waited for."""
    with contextlib.suppress(Exception):  # still loading after 2 s: what arrived is read
        page.wait_for_function("() => !document.querySelector('.htmx-request')", timeout=2000, polling=50)


class Walk:
    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.seen: set[str] = set()
        self.found: dict[str, list[str]] = {}

    def read(self, url: str, label: str = "") -> None:
        try:
            self.page.goto(url)
        except Exception as exc:  # noqa: BLE001 - only an empty answer (a POST-only URL's 405) is fine
            if "ERR_HTTP_RESPONSE_CODE_FAILURE" not in str(exc):
                raise
            return
        settle(self.page)
        self.check(label or url)

    def check(self, label: str) -> None:
        if bad := leaked(self.page):
            self.found[label] = bad

    def crawl(self, start: list[str]) -> None:
        """Open each address, then every same-site link it shows, once."""
        queue = list(start)
        while queue:
            url = queue.pop(0)
            if url in self.seen or is_skipped(url):
                continue
            self.seen.add(url)
            self.read(url)
            for href in self.links():
                parts = urlsplit(href)
                if not parts.netloc and parts.path.startswith("/") and href not in self.seen:
                    queue.append(href)

    def links(self) -> list[str]:
        """The page's links; a page that moved on by itself (htmx redirect) is read once it settled."""
        for _ in range(3):
            try:
                return list(
                    self.page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
                )
            except Exception:  # noqa: BLE001 - the context went with a navigation
                self.page.wait_for_load_state()
                self.check(f"{self.page.url} (after it navigated)")
        raise AssertionError(f"{self.page.url} keeps navigating")

    def submit_empty(self, url: str) -> None:
        """A form sent with every field empty: the page with its errors."""
        self.page.goto(url)
        form = self.page.locator("main form[method=post], main form[method=POST]").first
        if form.count() == 0:
            return
        form.evaluate(
            """f => { f.noValidate = true;
                      f.querySelectorAll('input:not([type=hidden]):not([type=submit]), textarea')
                       .forEach(i => { if (i.type === 'checkbox') i.checked = false; else i.value = ''; });
                      f.requestSubmit ? f.requestSubmit() : f.submit(); }"""
        )
        self.page.wait_for_load_state()
        settle(self.page)
        self.check(f"{url} (submitted empty)")


def is_skipped(url: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        return resolve(urlsplit(url).path).url_name in SKIPPED
    except Resolver404:
        return False


def test_every_url_is_walked_or_skipped_with_a_reason():  # type: ignore[no-untyped-def]
    names = {pattern.name for pattern in named_patterns()}
    assert set(SKIPPED) <= names, f"SKIPPED names URLs that no longer exist: {set(SKIPPED) - names}"
    assert set(FORMS) | set(SEARCHED) <= names


def test_templates_have_no_comment_that_spans_lines():  # type: ignore[no-untyped-def]
    """The cheap guard beside the walk: a `{#` whose `#}` is on a later line is printed as text."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    wrong = [
        f"{path.relative_to(root)}:{n}"
        for path in sorted(root.rglob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.count("{#") != line.count("#}")
    ]
    assert wrong == [], "use {% comment %} for comments over several lines: " + ", ".join(wrong)


def test_no_page_shows_template_text_to_any_role(page, panel_server):  # type: ignore[no-untyped-def]
    walk = Walk(page)

    # Empty states first: every list with nothing in it, as an admin (who sees every menu).
    make_user("empty-admin", "admin")
    log_in(page, "empty-admin")
    for pattern in named_patterns():
        if not pattern.pattern.regex.groupindex and pattern.name not in SKIPPED:
            walk.read(reverse(pattern.name), f"{reverse(pattern.name)} (empty)")

    seeded = seed()
    for role in ROLES:
        page.context.clear_cookies()
        log_in(page, "ada" if role == "admin" else f"{role}-walker")
        walk.seen.clear()
        start = [
            url
            for pattern in named_patterns()
            if pattern.name not in SKIPPED
            for url in urls_of(pattern, seeded)
        ]
        walk.crawl(start)
        for name in SEARCHED:
            walk.read(reverse(name) + "?q=no-such-thing-anywhere", f"{name} searched, nothing found ({role})")
        if role in ("operator", "admin"):
            for name in FORMS:
                pattern = next(p for p in named_patterns() if p.name == name)
                for url in urls_of(pattern, seeded):
                    walk.submit_empty(url)
        walk.read("/sites/no-such-site/", f"404 ({role})")
        walk.read("/clusters/new/", f"clusters/new as {role} (403 unless admin)")
        walk.read("/jobs/999999/", f"unknown job ({role})")
    assert walk.found == {}, "template text shown to readers:\n" + "\n".join(
        f"  {where}: {bad}" for where, bad in walk.found.items()
    )
