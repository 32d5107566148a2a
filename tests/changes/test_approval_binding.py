"""An approval covers the image digest it was decided on and the manifests it judged, nothing else
(issue 17, "four eyes can be sidestepped"). The module update job runs here for real on PostgreSQL up
to its Check step; only its docker edges (the engine client, the one-off reads) are stood in for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.urls import reverse

from clusters.approvals import services
from clusters.approvals.gate.addons import Addon, AddonsIndex
from clusters.approvals.gate.binding import manifest_fingerprint
from clusters.approvals.models import ChangeSource, Decision, ManifestChange
from clusters.approvals.update_check import uncovered_changes
from clusters.models import Site
from clusters.sites.module_update import update
from panel.models import AuditEvent
from tests.changes.conftest import TRAP_ADDON
from tests.sites.jobrun import run_inline

pytestmark = pytest.mark.django_db(transaction=True)

JUDGED = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64


@pytest.fixture
def approved(personas, site: Site, make_change) -> ManifestChange:  # type: ignore[no-untyped-def]
    """report_xlsx's change, approved by carol while acme runs JUDGED."""
    Site.objects.filter(pk=site.pk).update(image_digest=JUDGED)
    change = make_change(personas.users["operator"])
    return services.approve(change.pk, personas.users["approver"])


@pytest.fixture
def image_reads(monkeypatch: pytest.MonkeyPatch, site: Site) -> list[dict[str, str]]:
    """The update's docker edges: no engine client, the installed modules as acme's row says, and
    the image's manifests as the test puts them in the returned list (read_image_addons)."""
    shown: list[dict[str, str]] = []

    @contextlib.contextmanager
    def no_client(runner: Any) -> Iterator[None]:
        yield None

    def read_image_addons(client: Any, spec: Any, run_id: str) -> AddonsIndex:
        assert shown, "the image was read although the digests already differ"
        addons = {n: Addon(n, f"/mnt/{n}", ("base",), True, "1.0", False, h) for n, h in shown[0].items()}
        return AddonsIndex(paths=["/mnt"], addons=addons)

    monkeypatch.setattr(update, "job_client", no_client)
    monkeypatch.setattr(update, "read_modules", lambda *a, **kw: dict(site.installed_modules))
    monkeypatch.setattr(update, "read_image_addons", read_image_addons)
    return shown


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="manifest.binding_refused").order_by("id"))


def test_an_approval_on_one_digest_does_not_let_an_update_on_another_through(  # type: ignore[no-untyped-def]
    monkeypatch, site, approved, image_reads
):
    decision = Decision.objects.get(change=approved, kind="approve")
    assert (decision.image_digest, decision.manifest_fingerprint) == (JUDGED, approved.manifest_fingerprint)
    # The tag is pushed again with other code and deployed (the deploy gate passes: nothing is missing).
    Site.objects.filter(pk=site.pk).update(image_digest=OTHER)
    status = Site.objects.get(pk=site.pk).status

    job = run_inline(monkeypatch, "module_update", site, modules=[TRAP_ADDON], backup=False)

    assert job.state == "failed" and job.result == {"refused": job.error}  # `site update` exits 2
    assert f"a new decision is needed before updating {TRAP_ADDON} on image {OTHER}" in job.error
    assert (
        f"change #{approved.pk}: it was decided on image {JUDGED}; this run is on image {OTHER}" in job.error
    )
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Check"] == "failed" and steps["Record replicas"] == "skipped", steps  # nothing changed
    assert Site.objects.get(pk=site.pk).status == status
    [event] = refusals()
    assert (event.job_id, event.site_slug, event.target_id) == (job.pk, "acme", str(approved.pk))
    assert event.before == {"image_digest": JUDGED, "manifest_fingerprint": approved.manifest_fingerprint}
    assert event.after["image_digest"] == OTHER and event.actor_username == job.created_by_name


def test_the_same_digest_with_other_manifests_is_refused(monkeypatch, site, approved, image_reads):  # type: ignore[no-untyped-def]
    judged = approved.manifest_hashes()
    image_reads.append({**judged, TRAP_ADDON: "f" * 64})  # the same digest cannot, but a wrong read can

    job = run_inline(monkeypatch, "module_update", site, modules=[TRAP_ADDON], backup=False)

    assert job.state == "failed" and job.result == {"refused": job.error}
    assert f"image {JUDGED} carries other manifests than the ones judged for {TRAP_ADDON}" in job.error
    [event] = refusals()
    assert event.after["manifest_fingerprint"] == manifest_fingerprint({TRAP_ADDON: "f" * 64})


def test_the_same_digest_and_manifests_pass_and_are_read_once(site, approved) -> None:  # type: ignore[no-untyped-def]
    reads: list[int] = []

    def image(hashes: dict[str, str]) -> Any:
        return lambda: reads.append(1) or hashes

    judged = approved.manifest_hashes()
    assert uncovered_changes(site, [TRAP_ADDON, "mis_builder"], JUDGED, image({**judged, "web": "0"})) == []
    assert reads == [1]
    missing = uncovered_changes(site, [TRAP_ADDON], JUDGED, image({}))  # the addon is not on the image
    assert [u.modules for u in missing] == [(TRAP_ADDON,)]
    assert uncovered_changes(site, ["mis_builder"], OTHER, image({})) == []  # no change covers it


def test_decisions_from_before_the_binding_cover_nothing(site, approved) -> None:  # type: ignore[no-untyped-def]
    Decision.objects.filter(change=approved).update(image_digest="", manifest_fingerprint="")
    [refused] = uncovered_changes(site, [TRAP_ADDON], JUDGED, dict)
    assert "decided before approvals were bound to an image" in refused.reason
    # The migration gives image changes their digest back from their name, and invents nothing else.
    image = ManifestChange.objects.create(
        site=site, state="overridden", source=ChangeSource.IMAGE, source_name=f"image {OTHER}",
        series="17.0", passes=False, verdict={"addons": {}}, submitted_by_name="cli:ops",
    )  # fmt: skip
    migration = __import__("clusters.approvals.migrations.0004_approval_binding", fromlist=["x"])
    migration.digests_of_image_changes(apps, None)
    image.refresh_from_db()
    assert (image.image_digest, image.manifest_fingerprint) == (OTHER, "")


def test_the_approver_sees_what_they_approve_and_a_stale_page_is_refused(personas, site, make_change) -> None:  # type: ignore[no-untyped-def]
    Site.objects.filter(pk=site.pk).update(image_digest=JUDGED)
    change = make_change(personas.users["operator"])
    carol = personas.client("approver")
    url = reverse("change-approve", args=[change.pk])
    page = carol.get(url).content.decode()
    assert JUDGED in page and change.manifest_fingerprint in page
    shown = {"confirm": "yes", "bound_digest": JUDGED, "bound_fingerprint": change.manifest_fingerprint}
    Site.objects.filter(pk=site.pk).update(image_digest=OTHER)  # deployed while carol was reading

    response = carol.post(url, shown)

    assert response.status_code == 409 and "changed since your page showed it" in response.content.decode()
    change.refresh_from_db()
    assert change.state == "pending" and not change.decisions.exists()
    assert carol.post(url, {**shown, "bound_digest": OTHER}).status_code == 302
    assert Decision.objects.get(change=change).image_digest == OTHER
    detail = carol.get(change.get_absolute_url()).content.decode()
    assert f'image <span class="mono">{OTHER}</span>' in detail and change.manifest_fingerprint in detail
