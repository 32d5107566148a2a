"""Intake details: the baseline for depends added/removed, and the size bounds of an upload."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.approvals import intake, services
from clusters.approvals.gate.errors import GateError
from clusters.approvals.models import ManifestChange
from clusters.models import Site
from tests.changes.conftest import TRAP_ADDON, small_zip, upload, zip_bytes

pytestmark = pytest.mark.django_db


def report_xlsx_change(depends: list[str]) -> SimpleUploadedFile:
    """report_xlsx with these depends, plus an addon the site has never had."""
    members = {
        f"addons/{TRAP_ADDON}/__manifest__.py": repr({"name": "r", "depends": depends}).encode(),
        "addons/brand_new/__manifest__.py": repr({"name": "n", "depends": ["base"]}).encode(),
    }
    return SimpleUploadedFile("two.zip", zip_bytes(members))


def diff_of(entry: dict) -> tuple:
    return entry["new"], entry["depends_added"], entry["depends_removed"]


def test_depends_added_and_removed_against_the_database_then_the_latest_approved_change(
    personas, site, make_change
):
    assert site.module_depends[TRAP_ADDON] == ["base", "web"]
    first = make_change(personas.users["operator"], depends=["base", "web", "board"])
    # The site's first change: compared with the dependencies read from its database.
    assert diff_of(first.verdict["addons"][TRAP_ADDON]) == (False, ["board"], [])
    services.approve(first.pk, personas.users["approver"])  # decided after the read: it is current now
    evaluation = intake.evaluate_archive(site, report_xlsx_change(["base", "board"]))
    assert diff_of(evaluation.verdict["addons"][TRAP_ADDON]) == (False, [], ["web"])
    # In neither the database nor an approved change: unknown, not "new".
    assert diff_of(evaluation.verdict["addons"]["brand_new"]) == (None, None, None)
    facts = {"depends": ["base"], "version": None, "installable": True}
    assert {k: v for k, v in evaluation.manifests["brand_new"].items() if k != "sha256"} == facts
    assert len(evaluation.manifests["brand_new"]["sha256"]) == 64  # what an approval binds to


def test_a_read_newer_than_the_approved_change_is_the_baseline(personas, site, make_change):
    first = make_change(personas.users["operator"], depends=["base", "web", "board"])
    services.approve(first.pk, personas.users["approver"])
    # Read again after the approval: the update never shipped it, the database still says base, web.
    Site.objects.filter(pk=site.pk).update(modules_read_at=timezone.now() + timedelta(seconds=1))
    site.refresh_from_db()
    evaluation = intake.evaluate_archive(site, report_xlsx_change(["base", "board"]))
    assert diff_of(evaluation.verdict["addons"][TRAP_ADDON]) == (False, ["board"], ["web"])


def test_a_sites_first_change_names_the_added_dependency_in_the_api_and_on_the_page(
    personas, site, trap_zip, operator_token
):
    """The sale_subscription trap on its first submission: not "unknown" but "added: sale_subscription"."""
    response = Client().post(
        reverse("api-site-check", args=[site.slug]),
        {"archive": upload(trap_zip), "select": TRAP_ADDON},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 200
    assert diff_of(response.json()["addons"][TRAP_ADDON]) == (False, ["sale_subscription"], [])
    personas.client("operator").post(
        reverse("change-submit", args=[site.slug]), {"archive": upload(trap_zip), "action": "submit"}
    )
    page = personas.client("viewer").get(ManifestChange.objects.get().get_absolute_url()).content.decode()
    row = re.search(rf'<tr>\s*<td><span class="mono">{TRAP_ADDON}</span>.*?</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="mono">(.*?)</td>', row.group(0), re.S)
    assert cells[:2] == ["sale_subscription", "—"]  # depends added, depends removed


def test_an_oversized_upload_is_refused_before_unpacking(personas, site, settings):
    settings.MAX_UPLOAD_BYTES = 100
    with pytest.raises(GateError, match="the limit is 0 MiB"):
        intake.evaluate_archive(site, SimpleUploadedFile("big.zip", small_zip(["base"])))
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base"])), "action": "submit"},
    )
    assert response.status_code == 400 and "the limit is 0 MiB" in response.content.decode()
    assert not ManifestChange.objects.exists()


def test_the_api_refuses_a_huge_body_with_413(site, operator_token, settings):
    settings.MAX_UPLOAD_BYTES = 0
    response = Client().post(
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(os.urandom(2 << 20))},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 413 and not ManifestChange.objects.exists()
