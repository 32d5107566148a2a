"""The ops workflows in a real browser: Debian's headless Chromium, the panel under uvicorn, a real
Celery worker, and the Swarm lab. Each test asserts on what the page shows and saves screenshots."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
import zipfile

import docker
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clusters.models import Cluster, Site
from clusters.sync import sync_cluster
from jobs.models import Job
from lab.api import FILESTORE_ROOT
from tests import factories
from tests.browser.conftest import log_in, make_user, serious_violations, shoot, watch_csp
from tests.modules.helpers import deploy_and_install, new_site
from tests.sites.conftest import remove_site_objects

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def lab_cluster(lab):  # type: ignore[no-untyped-def]
    cluster = Cluster.objects.create(name="lab", endpoint=lab.manager_socket, is_lab=True)
    sync_cluster(cluster)
    return cluster


@pytest.fixture
def docker_client(lab):  # type: ignore[no-untyped-def]
    client = docker.DockerClient(base_url=lab.manager_socket)
    yield client
    client.close()


@pytest.mark.lab
def test_log_in_and_see_the_lab_cluster_and_its_nodes(page, lab, lab_cluster):  # type: ignore[no-untyped-def]
    make_user("alice", "viewer")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    shoot(page, "login")

    log_in(page, "alice")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    row = page.locator("table tr", has=page.get_by_role("link", name="lab", exact=True))
    expect(row).to_contain_text(f"{len(lab.nodes)} / {len(lab.nodes)}")
    shoot(page, "dashboard")
    assert serious_violations(page) == []

    # At a phone's width the page reflows instead of scrolling sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, "dashboard-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    row.get_by_role("link", name="lab", exact=True).click()
    for node in lab.nodes:
        expect(page.get_by_role("cell", name=node.hostname, exact=True)).to_be_visible()
    shoot(page, "cluster")


@pytest.mark.lab
def test_create_a_site_with_two_domains_and_deploy_it_watching_the_log(  # type: ignore[no-untyped-def]
    page, lab, lab_cluster, panel_worker, docker_client
):
    make_user("bob", "operator")
    slug = f"b{uuid.uuid4().hex[:8]}"
    try:
        log_in(page, "bob")
        page.get_by_role("link", name="New site").click()
        page.locator("#id_cluster").select_option(label=str(lab_cluster))
        page.locator("#id_slug").fill(slug)
        page.locator("#id_image").fill(lab.image("odoo19").ref)  # the form's default series: 19.0
        page.locator("#id_replicas").fill("2")
        page.locator("#id_db_name").fill(slug)
        page.locator("#id_db_node").fill(lab.workers[0].hostname)
        page.locator("#id_filestore_kind").select_option(Site.Filestore.BIND)
        page.locator("#id_bind_path").fill(f"{FILESTORE_ROOT}/{slug}")
        page.locator("#id_traefik_network").fill("")
        page.locator("#id_traefik_certresolver").fill("")
        page.locator("#id_db_image").fill(lab.image("postgres").ref)
        page.locator("#id_redis_image").fill(lab.image("redis").ref)
        shoot(page, "site-form")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name=re.compile(f"Site {slug}"))).to_be_visible()

        for name in (f"{slug}-a.lab.test", f"{slug}-b.lab.test"):
            page.get_by_label("Add a domain").fill(name)
            page.get_by_role("button", name="Add", exact=True).click()
            expect(page.locator("#site-domains")).to_contain_text(name)
        shoot(page, "site")
        assert serious_violations(page) == []

        page.get_by_role("button", name="Deploy", exact=True).click()
        page.wait_for_url(re.compile(r"/jobs/\d+/"))
        # The log arrives while the job runs: lines appended by the event stream into this same page
        # (the marker survives: no reload), and the state turns to succeeded without a reload either.
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("#job-log .live")).to_be_visible()
        shown = page.locator("#log-lines > *").count()
        page.wait_for_function(
            "n => document.querySelectorAll('#log-lines > *').length > n", arg=shown, timeout=60_000
        )
        state = page.locator("#job-summary .cards .card").first
        expect(state).to_contain_text("Succeeded", timeout=150_000)
        assert page.evaluate("window.__sameDocument") is True
        expect(page.locator("#job-log .live")).to_have_text("Succeeded")  # the stream's `end` event
        expect(page.locator("#toasts")).to_contain_text("succeeded")  # said where the eye is not
        job = Job.objects.get(site__slug=slug, kind="deploy")
        assert job.state == "succeeded"
        lines = page.locator("#log-lines").inner_text()
        assert lines.strip(), "the page showed no log line"
        expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()  # the job has ended
        shoot(page, "job")
        assert serious_violations(page) == []

        page.locator("#job-summary").get_by_role("link", name=slug, exact=True).click()
        expect(page.locator("h1")).to_contain_text("Healthy")
    finally:
        remove_site_objects(docker_client, slug, lab)


@pytest.mark.lab
def test_update_modules_with_plan_and_confirm(  # type: ignore[no-untyped-def]
    page, lab, lab_cluster, panel_worker, docker_client, monkeypatch
):
    make_user("bob", "operator")
    site = new_site(lab, docker_client, lab_cluster)
    try:
        deploy_and_install(monkeypatch, site)  # in this process, as a worker would: not what is tested
        log_in(page, "bob")
        page.goto(f"/sites/{site.slug}/")
        page.get_by_role("link", name="Update modules").click()
        page.get_by_role("checkbox", name="shop_base").check()
        page.get_by_role("button", name="See the plan").click()
        plan = page.locator("form ol")
        expect(plan).to_contain_text("Scale to 0")
        expect(plan).to_contain_text("-u shop_base")
        shoot(page, "update-plan")

        page.get_by_role("button", name="Update 1 module now").click()
        page.wait_for_url(re.compile(r"/jobs/\d+/"))
        expect(page.locator("h1")).to_contain_text(f"Module update {site.slug}")
        # What the page shows, as it refreshes itself: the replica count goes 2 -> 0 -> 2 and the
        # timeline names the current step; the engine is asked too, as a cross-check.
        service = docker_client.services.get(f"{site.slug}_odoo")
        shown, engine, steps = [], set(), set()
        state = page.locator("#job-summary .cards .card").first
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and "Succeeded" not in state.inner_text():
            assert "Failed" not in state.inner_text(), page.locator("#log-lines").inner_text()[-3000:]
            text = page.locator("#job-replicas .big").inner_text().strip()
            if not shown or shown[-1] != text:
                shown.append(text)
            current = page.locator("#job-summary li[aria-current='step'] strong")
            if current.count():
                steps.add(current.inner_text())
            service.reload()
            engine.add(service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"])
            page.wait_for_timeout(200)
        expect(state).to_contain_text("Succeeded")
        assert shown[0] == "2 / 2" and "0 / 2" in shown, shown
        expect(page.locator("#job-replicas .big")).to_have_text("2 / 2")
        assert 0 in engine, f"the service never went to 0 replicas: saw {engine}"
        assert {"Scale to 0", "Update"} & steps, f"the timeline never showed a current step: {steps}"
        expect(page.locator("#toasts")).to_contain_text("succeeded")
        log = page.locator("#log-lines")
        expect(log).to_contain_text("recorded replicas")
        expect(log).to_contain_text("replicas restored")
        shoot(page, "update-job")

        page.goto(f"/sites/{site.slug}/")
        expect(page.locator(".card", has_text="Replicas running")).to_contain_text("2 / 2")

        # The audit log has the update, by bob, linked to its job.
        page.goto(f"/audit/?site={site.slug}")
        started = page.locator("tr[id^='event-']", has_text="job.start").filter(has_text="module_update")
        expect(started).to_have_count(1)
        expect(started).to_contain_text("bob")
        expect(started.get_by_role("link", name=re.compile("job", re.I)).first).to_be_visible()
    finally:
        remove_site_objects(docker_client, site.slug, lab)


def addon_zip(name: str, depends: list[str]) -> bytes:
    manifest = repr({"name": name, "version": "17.0.1.0.1", "depends": depends}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"addons/{name}/__manifest__.py", manifest)
        zf.writestr(f"addons/{name}/__init__.py", b"")
    return buf.getvalue()


def submit_change(page, slug: str, title: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/sites/{slug}/")
    page.get_by_role("link", name="Submit a manifest change").click()
    page.get_by_label("Archive").set_input_files(
        files=[{"name": f"{title}.zip", "mimeType": "application/zip", "buffer": data}]
    )
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_url(re.compile(r"/changes/\d+/"))


def test_the_gate_blocks_a_change_and_a_second_user_approves_one_then_the_audit_log_shows_it(  # type: ignore[no-untyped-def]
    page, browser, panel_server, tmp_path, csp_violations
):
    """No engine involved: the gate compares manifests with the modules read from the site's database
    (recorded on the site row), so the site here is only a row."""
    make_user("carol", "approver")
    make_user("dave", "admin")
    installed = {
        "base": ["installed", "17.0.1.3"],
        "web": ["installed", "17.0.1.0"],
        "shop_base": ["installed", "17.0.1.0.0"],
        "sale_subscription": ["uninstalled", None],
    }
    site = factories.site(
        factories.cluster(name="prod"),
        slug="acme",
        series="17.0",
        installed_modules=installed,
        modules_read_at=timezone.now(),
    )
    log_in(page, "carol")

    # Blocked: an installed addon now depends on a module the site's database does not have. The page
    # says so, and why: the missing module, and the installed modules Odoo would skip.
    submit_change(page, site.slug, "subscriptions", addon_zip("shop_base", ["base", "sale_subscription"]))
    expect(page.locator("h1")).to_contain_text("Blocked")
    why = page.locator(".card", has=page.locator("h3", has_text="shop_base"))
    expect(why).to_contain_text("sale_subscription")
    expect(why).to_contain_text("not installed in the site's database")
    expect(why).to_contain_text("Blast radius (installed modules that would vanish with it): shop_base")
    expect(page.locator("p.warning")).to_contain_text("A blocked change cannot be approved")
    expect(page.get_by_role("link", name="Approve…")).to_have_count(0)
    shoot(page, "change-blocked")
    assert serious_violations(page) == []

    # Passes: waits for an approver other than the submitter, who sees no approve button.
    submit_change(page, site.slug, "reports", addon_zip("shop_report", ["base", "web"]))
    change_url = page.url
    expect(page.locator("h1")).to_contain_text("Pending")
    expect(page.get_by_text("You submitted this change: someone else must approve it.")).to_be_visible()
    expect(page.get_by_role("link", name="Approve…")).to_have_count(0)
    shoot(page, "change-pending")

    second = browser.new_context(base_url=panel_server.base, viewport={"width": 1366, "height": 900})
    watch_csp(second, csp_violations)  # checked with the first tab's, when the test is done
    try:
        other = second.new_page()
        other.set_default_timeout(15_000)
        log_in(other, "dave")
        other.goto(change_url)
        other.get_by_role("link", name="Approve…").click()
        other.get_by_role("button", name=re.compile("Approve")).click()
        expect(other.locator("h1")).to_contain_text("Approved")
        decisions = other.locator("table", has=other.get_by_role("columnheader", name="Decision"))
        expect(decisions).to_contain_text("dave")
        expect(decisions).to_contain_text("Approve")
        shoot(other, "change-approved")
    finally:
        second.close()

    # The audit log has all of it, and exports it.
    page.get_by_role("link", name="Audit", exact=True).click()
    events = page.locator("tr[id^='event-']")
    submits = events.filter(has=page.locator("td.mono", has_text=re.compile(r"^manifest\.submit$")))
    approves = events.filter(has=page.locator("td.mono", has_text=re.compile(r"^manifest\.approve$")))
    expect(submits).to_have_count(2)
    expect(submits.first).to_contain_text("carol")
    expect(approves).to_have_count(1)
    expect(approves).to_contain_text("dave")
    shoot(page, "audit")
    assert serious_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(newline="")))
    actions = [row.get("action") for row in rows]
    assert actions.count("manifest.submit") == 2 and "manifest.approve" in actions, actions


PAGES = ["/", "/clusters/", "/sites/", "/domains/", "/jobs/", "/changes/", "/audit/", "/users/"]


def test_every_main_page_reads_well_at_laptop_and_phone_widths(page, panel_server):  # type: ignore[no-untyped-def]
    """Each list page and a site's and a job's page, with rows in them: no serious accessibility
    finding, and at a phone's width the page reflows instead of scrolling sideways."""
    make_user("erin", "admin")
    site = factories.site(factories.cluster(name="prod"), slug="acme", replicas=2)
    factories.domain(site, "shop.acme.example.com")
    job = factories.job(site, kind="deploy", state="succeeded", created_by_name="erin")
    log_in(page, "erin")
    for url in [*PAGES, f"/sites/{site.slug}/", f"/jobs/{job.pk}/", f"/sites/{site.slug}/modules/update/"]:
        name = url.strip("/").replace("/", "-") or "dashboard"
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(url)
        expect(page.locator("main h1").first).to_be_visible()
        assert serious_violations(page) == [], url
        shoot(page, f"wide-{name}")
        page.set_viewport_size({"width": 390, "height": 844})
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"{url} scrolls sideways by {wide}px at 390 px"
        shoot(page, f"phone-{name}")


def test_the_keyboard_reaches_everything_in_order(page, panel_server):  # type: ignore[no-untyped-def]
    """Focus order: the login form in reading order; on every page the first Tab offers the skip
    link, which moves focus past the navigation."""
    make_user("frank", "viewer")
    page.goto("/login/")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus: type at once
    order = []
    for _ in range(2):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order == ["id_password", "Log in"], order
    log_in(page, "frank")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    inside_main = page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert inside_main, "after the skip link, the next Tab should land inside the page's content"


def test_a_reader_scrolled_up_keeps_a_bounded_page_then_jumps_to_the_latest(  # type: ignore[no-untyped-def]
    page, panel_worker
):
    """While someone reads older lines of a busy job, new lines are held back (counted on a button)
    instead of growing the page; the button brings the latest tail."""
    from jobs.control import start

    make_user("gina", "viewer")
    job = start("test.lines", params={"count": 600, "delay": 0.02})
    log_in(page, "gina")
    page.goto(f"/jobs/{job.pk}/")
    page.wait_for_function("() => document.querySelectorAll('#log-lines > .ln').length > 40", timeout=30_000)
    page.locator("#log-scroll").evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    held = page.locator("#log-held")
    expect(held).to_contain_text("held while you read", timeout=15_000)
    shown = page.locator("#log-lines > .ln").count()
    page.wait_for_timeout(1500)
    assert page.locator("#log-lines > .ln").count() == shown, "lines were added while the reader was up"
    held.click()
    page.wait_for_load_state()
    expect(page.locator("#log-lines")).to_contain_text("line 600", timeout=60_000)
