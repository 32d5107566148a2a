"""Intake details: the baseline for depends added/removed, and the size bounds of an upload."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jobs.changes import api, intake, services
from jobs.changes.models import ManifestChange
from jobs.gate.errors import GateError
from tests.changes.conftest import TRAP_ADDON, small_zip, upload, zip_bytes

pytestmark = pytest.mark.django_db


def test_depends_added_and_removed_against_the_latest_approved_change(personas, site, make_change):
    first = make_change(personas.users["operator"], depends=["base", "web"])
    assert first.verdict["addons"][TRAP_ADDON]["depends_added"] is None  # nothing to compare with yet
    services.approve(first.pk, personas.users["approver"])
    two = {
        f"addons/{TRAP_ADDON}/__manifest__.py": repr({"name": "r", "depends": ["base", "mail"]}).encode(),
        "addons/brand_new/__manifest__.py": repr({"name": "n", "depends": ["base"]}).encode(),
    }
    evaluation = intake.evaluate_archive(site, SimpleUploadedFile("two.zip", zip_bytes(two)))
    entry = evaluation.verdict["addons"][TRAP_ADDON]
    assert (entry["new"], entry["depends_added"], entry["depends_removed"]) == (False, ["mail"], ["web"])
    other = evaluation.verdict["addons"]["brand_new"]
    assert (other["new"], other["depends_added"]) == (None, None)  # unknown, not "new"
    assert evaluation.manifests["brand_new"] == {"depends": ["base"], "version": None, "installable": True}


def test_an_oversized_upload_is_refused_before_unpacking(personas, site, monkeypatch):
    monkeypatch.setattr(intake, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(GateError, match="the limit is 0 MiB"):
        intake.evaluate_archive(site, SimpleUploadedFile("big.zip", small_zip(["base"])))
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base"])), "action": "submit"},
    )
    assert response.status_code == 400 and "the limit is 0 MiB" in response.content.decode()
    assert not ManifestChange.objects.exists()


def test_the_api_refuses_a_huge_body_with_413(site, operator_token, monkeypatch):
    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 0)
    response = Client().post(
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(os.urandom(2 << 20))},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 413 and not ManifestChange.objects.exists()
