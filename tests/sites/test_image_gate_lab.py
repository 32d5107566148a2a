"""The gate reads the image: a new image whose installed addon gains a dependency the site has not
installed is refused before the deploy changes anything, naming what `-u` would install (Odoo 19
installs it and every auto-install module after it, and exits 0). The block is a manifest change of
that digest: updates of the addon are refused too, until an admin overrides it; forced through, the
update fails by the log judge (modules installed that nobody asked for) and the replicas come back.
On the lab's 19.0 stand-in."""

import pytest

from clusters.approvals import services
from clusters.approvals.models import ChangeSource, ManifestChange
from clusters.models import Site
from tests import factories
from tests.modules.helpers import deploy_and_install, manifest_line, put_in_place, result_of, site_is_back
from tests.sites.conftest import build_variant
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

# shop_base now needs sale_management (in Odoo's own addons, not installed on the site), and a new
# bridge addon installs itself once both are there: the install Odoo would do unasked.
SHOP_BASE = {
    "name": "Shop Base",
    "version": "1.0.1",
    "depends": ["sale", "sale_management"],
    "license": "LGPL-3",
}
BRIDGE = {"name": "Bridge", "version": "1.0.0", "depends": ["shop_base", "sale_management"],
          "auto_install": True, "license": "LGPL-3"}  # fmt: skip


def new_image(lab, docker_client, site: Site) -> str:  # type: ignore[no-untyped-def]
    lines = [manifest_line("shop_base", SHOP_BASE), manifest_line("shop_bridge", BRIDGE)]
    return build_variant(docker_client, lab.image("odoo19").ref, site.image, lines)


def test_an_image_that_would_install_modules_unasked_is_refused_then_overridden(  # type: ignore[no-untyped-def]
    make_site, monkeypatch, docker_client, lab
):
    site = deploy_and_install(monkeypatch, make_site(image="odoo19"))
    before = site.image_digest
    assert "sale_management" not in site.installed_for_gate()
    digest = new_image(lab, docker_client, site)

    job = run_inline(monkeypatch, "deploy", site)

    assert job.state == "failed", log_text(job)[-3000:]
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Image check"] == "failed" and steps["Database and Redis"] == "skipped", steps
    assert "`-u` would install: sale_management, and 1 auto-install module (shop_bridge)" in job.error
    assert "shop_base" in job.error and "shop_sale" in job.error  # what would break with it
    assert result_of(job)["refused"]
    site.refresh_from_db()
    assert site.image_digest == before and site.status == Site.Status.HEALTHY  # nothing changed
    assert site_is_back(docker_client, site.slug) == ""
    change = ManifestChange.objects.get(site=site, source=ChangeSource.IMAGE)
    assert change.state == "blocked" and change.source_name == f"image {digest}"
    assert set(change.addons.values_list("name", flat=True)) == {"shop_base"}

    # The new code is in place (not by the panel): the update of shop_base waits for a decision.
    site = put_in_place(docker_client, site, digest)
    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)
    assert job.state == "failed" and result_of(job)["refused"], log_text(job)[-2000:]
    assert f"change #{change.pk}, blocked" in job.error

    # An admin forces it through: Odoo installs what nobody asked for; the judge fails the update.
    services.override(change.pk, factories.user("root-admin", role="admin"), "forced for the test")
    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)
    assert job.state == "failed", log_text(job)[-3000:]
    verdict = result_of(job)["verdict"]
    assert verdict["exit_code"] == 0 and {"sale_management", "shop_bridge"} <= set(verdict["installed"]), (
        verdict
    )
    assert site_is_back(docker_client, site.slug) == ""
