"""Submitting a manifest change through the page: the sale_subscription trap, check only, unread sites,
host folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from clusters.approvals.models import ChangeAddon, ManifestChange
from panel.models import AuditEvent
from tests.changes.conftest import ABOVE_TRAP, OCA, TRAP_ADDON, small_zip, upload

pytestmark = pytest.mark.django_db


def gate_temp_dirs() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("gate-")}


def test_seed_trap_through_the_page_is_blocked_with_everything_above_named(personas, site, trap_zip):
    before = gate_temp_dirs()
    url = reverse("change-submit", args=[site.slug])
    response = personas.client("operator").post(
        url, {"archive": upload(trap_zip), "title": "add subscriptions", "action": "submit"}
    )
    change = ManifestChange.objects.get()
    assert response.status_code == 302 and response["Location"] == change.get_absolute_url()
    assert change.state == "blocked" and change.passes is False
    assert change.submitted_by_name == "bob" and change.source == "upload"
    blocked = {TRAP_ADDON, *ABOVE_TRAP}
    assert set(change.verdict["blocked"]) == blocked
    assert set(change.verdict["blast_radius"]) == blocked
    entry = change.verdict["addons"][TRAP_ADDON]
    assert entry["not_installed"] == ["sale_subscription"]
    assert entry["blast_radius"] == sorted(blocked)
    assert (
        set(ChangeAddon.objects.filter(change=change, blocked=True).values_list("name", flat=True)) == blocked
    )
    assert change.manifests[TRAP_ADDON]["depends"] == ["sale_subscription", "base", "web"]
    assert change.verdict["addons_paths"] == ["addons"]  # no dead temporary path is stored
    assert gate_temp_dirs() <= before, "the unpacked upload must be removed after the verdict"

    page = personas.client("viewer").get(change.get_absolute_url()).content.decode()
    assert "BLOCKED" in page and "Odoo would silently skip 5 installed modules" in page
    for name in blocked:
        assert name in page
    assert "2026-11-29 10:00" in page  # the read-at time of the installed modules
    events = AuditEvent.objects.filter(action="manifest.submit")
    assert events.count() == 1 and events.get().actor_username == "bob"
    assert events.get().site_slug == "acme"


def test_check_only_shows_the_verdict_and_stores_nothing(personas, site, trap_zip):
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(trap_zip), "select": TRAP_ADDON, "action": "check"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "nothing was stored" in page and "BLOCKED" in page
    for name in ABOVE_TRAP:
        assert name in page
    assert not ManifestChange.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="manifest.").exists()


def test_a_site_whose_modules_were_never_read_is_refused_with_a_read_button(personas, unread_site):
    client = personas.client("operator")
    url = reverse("change-submit", args=[unread_site.slug])
    page = client.get(url).content.decode()
    assert "have never been read" in page
    assert reverse("site-read-modules", args=[unread_site.slug]) in page
    assert 'name="archive"' not in page
    response = client.post(url, {"archive": upload(small_zip(["base"])), "action": "submit"})
    assert response.status_code == 409 and not ManifestChange.objects.exists()


def test_a_passing_change_goes_pending(personas, site):
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base", "web"])), "action": "submit"},
    )
    change = ManifestChange.objects.get()
    assert response.status_code == 302 and change.state == "pending" and change.passes


def test_select_must_name_addons(personas, site):
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base"])), "select": "report_xlsx; rm -rf /", "action": "submit"},
    )
    assert response.status_code == 400 and "not addon names" in response.content.decode()
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base"])), "select": "mis_builder", "action": "submit"},
    )
    assert response.status_code == 400 and "not in the addons paths" in response.content.decode()
    assert not ManifestChange.objects.exists()


def test_host_folder_is_for_admins_and_only_read(personas, site):
    url = reverse("change-submit-folder", args=[site.slug])
    assert personas.client("operator").post(url, {"folder": str(OCA / "addons")}).status_code == 403
    response = personas.client("admin").post(
        url, {"folder": str(OCA / "addons"), "select": "report_xlsx", "action": "submit"}
    )
    change = ManifestChange.objects.get()
    assert response.status_code == 302 and change.source == "folder" and change.state == "pending"
    assert change.source_name == str(OCA / "addons")
    assert change.verdict["addons_paths"] == [str(OCA / "addons")]


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("relative/addons", "Give an absolute path"),
        ("/nonexistent/addons", "no such folder"),
        ("EMPTY", "no addon"),
    ],
)
def test_host_folder_errors(personas, site, tmp_path: Path, folder: str, message: str):
    folder = str(tmp_path) if folder == "EMPTY" else folder
    response = personas.client("admin").post(
        reverse("change-submit-folder", args=[site.slug]), {"folder": folder, "action": "submit"}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not ManifestChange.objects.exists()


def test_folder_with_a_hostile_manifest_names_the_file(personas, site, tmp_path: Path):
    addon = tmp_path / "addons" / "evil"
    addon.mkdir(parents=True)
    (addon / "__manifest__.py").write_text("{'name': __import__('os').system('touch /tmp/pwned')}")
    response = personas.client("admin").post(
        reverse("change-submit-folder", args=[site.slug]), {"folder": str(tmp_path), "action": "submit"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "__manifest__.py" in page and "function call" in page
    assert not ManifestChange.objects.exists()
