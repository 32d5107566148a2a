"""An approval covers the image it was decided on (issue 17, "four eyes can be sidestepped"): shop_base's
manifest change is approved while the site runs one digest, and the update runs, after reading the
image's manifests and finding the judged ones. Then the same tag is pushed again with another
manifest and deployed (the gate passes: nothing is missing): the update of shop_base is refused before
anything changes, naming both digests, and the refusal is in the audit log. On the lab's 17.0 stand-in."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clusters.approvals import services
from clusters.approvals.intake import evaluate_archive
from clusters.approvals.models import ChangeSource
from panel.models import AuditEvent
from tests import factories
from tests.changes.conftest import zip_bytes
from tests.modules.helpers import deploy_and_install, manifest_line, redeploy, result_of, site_is_back
from tests.sites.conftest import build_variant
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

SHOP_BASE = {"name": "Shop Base", "version": "1.0.1", "depends": ["sale"], "license": "LGPL-3"}


def test_an_image_pushed_again_under_the_approved_tag_needs_a_new_decision(  # type: ignore[no-untyped-def]
    make_site, monkeypatch, docker_client, lab
):
    site = make_site()
    judged = build_variant(
        docker_client, lab.image("odoo").ref, site.image, [manifest_line("shop_base", SHOP_BASE)]
    )
    site = deploy_and_install(monkeypatch, site)
    assert site.image_digest == judged and site.modules_read_at is not None
    # The merge request's manifest, byte for byte what the image carries, submitted and approved.
    archive = zip_bytes(
        {"shop/shop_base/__manifest__.py": repr(SHOP_BASE).encode(), "shop/shop_base/__init__.py": b""}
    )
    bob, carol = factories.user("bob", role="operator"), factories.user("carol", role="approver")
    evaluation = evaluate_archive(site, SimpleUploadedFile("shop.zip", archive), ["shop_base"])
    change = services.submit(site, evaluation, user=bob, source=ChangeSource.UPLOAD)
    change = services.approve(change.pk, carol)
    assert change.decisions.get().image_digest == judged

    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert "reading the image's manifests to compare them with the approved ones" in log_text(job)

    lines = [manifest_line("shop_base", {**SHOP_BASE, "version": "1.0.2"})]
    pushed = build_variant(docker_client, lab.image("odoo").ref, site.image, lines)
    site = redeploy(monkeypatch, site)
    assert site.image_digest == pushed != judged

    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)
    assert job.state == "failed" and result_of(job)["refused"] == job.error, log_text(job)[-2000:]
    assert f"it was decided on image {judged}; this run is on image {pushed}" in job.error
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Record replicas"] == "skipped" and steps["Update"] == "skipped", steps
    assert site_is_back(docker_client, site.slug) == ""
    event = AuditEvent.objects.get(action="manifest.binding_refused", job_id=job.pk)
    assert event.before["image_digest"] == judged and event.after["image_digest"] == pushed
