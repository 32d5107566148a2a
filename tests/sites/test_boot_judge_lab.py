"""Deploys read the boot: on the lab's 19.0 stand-in, a new image whose installed addon now depends on
a module that exists nowhere boots "fine" (Odoo 19 skips the addon, logs it, and /web/health stays
green); the deploy reads each new replica's log, fails naming the addon and the missing dependency,
and rolls back to the digest that served. A good new image deploys as before.

The approval gate reads the image first and blocks such a dependency; here an admin forces the image
through (its manifest change overridden), which leaves the boot judge as the last line."""

import re
import time

import pytest

from clusters.approvals import services
from clusters.models import Site
from clusters.sites.deploy import probe_health
from clusters.sites.site_spec import spec_for
from jobs.models import Job
from tests import factories
from tests.modules.helpers import deploy_and_install, manifest_line, site_is_back, wait_until
from tests.sites.conftest import build_variant
from tests.sites.jobrun import log_text, run_inline
from tests.sites.test_deploy_lab import running_digests

pytestmark = [pytest.mark.integration, pytest.mark.lab]

SHOP_STOCK = {
    "name": "Shop Stock (demo)",
    "version": "1.0.1",
    "depends": ["stock", "shop_base", "nonexistent_dep"],
    "license": "LGPL-3",
}


def deploy_past_the_gate(monkeypatch, site: Site) -> Job:  # type: ignore[no-untyped-def]
    """Deploy; if the approval gate refuses the image, an admin overrides it and the deploy runs again."""
    job = run_inline(monkeypatch, "deploy", site)
    change = re.search(r"manifest change #(\d+)", job.error or "")
    if job.state == "failed" and "approval gate blocks" in job.error and change:
        admin = factories.user("boot-admin", role="admin")
        services.override(int(change[1]), admin, "forced through: the boot judge is the last line")
        job = run_inline(monkeypatch, "deploy", site)
    return job


def step_seconds(job: Job, name: str) -> float:
    found = re.search(rf"[✓✗] {re.escape(name)} \((\d+\.\d) s\)", log_text(job))
    assert found, f"no end of step {name} in the log"
    return float(found[1])


def test_a_skipped_module_fails_the_deploy_and_rolls_back_and_a_good_image_deploys(  # type: ignore[no-untyped-def]
    make_site, monkeypatch, docker_client, lab
):
    site = deploy_and_install(monkeypatch, make_site(image="odoo19"))
    good = site.image_digest
    odoo = f"{site.slug}_odoo"
    assert site.installed_modules["shop_stock"][0] == "installed"
    build_variant(
        docker_client, lab.image("odoo19").ref, site.image, [manifest_line("shop_stock", SHOP_STOCK)]
    )

    job = deploy_past_the_gate(monkeypatch, site)

    assert job.state == "failed", log_text(job)[-3000:]
    assert "shop_stock was skipped (depends on nonexistent_dep, not installed)" in job.error, job.error
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Odoo and cron"] == "succeeded" and steps["Boot check"] == "failed", steps
    text = log_text(job)
    assert f"{odoo}.1: shop_stock was skipped: some depends are not loaded, skipped" in text, text[-3000:]
    assert f"rolling {odoo} back to its previous spec" in text
    refused_in = step_seconds(job, "Boot check")
    site.refresh_from_db()
    assert site.image_digest == good and site.status == Site.Status.DEGRADED

    # Swarm's rollback settles on its own time: both replicas back on the digest that served.
    wait_until(lambda: running_digests(docker_client, odoo) == {good}, 120, "the rollback to the good digest")
    wait_until(lambda: site_is_back(docker_client, site.slug) == "", 60, "both replicas running")
    # Every task IP the site's network resolves answers /web/health (a task still stopping may too).
    assert len(probe_health(docker_client, spec_for(site), "tbootprobe", lambda _line: None)) >= 2

    # A good new image (the same addons) deploys as before; its boot is read and passes.
    second = build_variant(docker_client, lab.image("odoo19").ref, site.image, ["LABEL panel.test.boot=good"])
    started = time.monotonic()
    job = deploy_past_the_gate(monkeypatch, site)
    took = time.monotonic() - started
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    text = log_text(job)
    assert re.search(rf"{odoo}\.[12]: registry loaded, \d+ modules", text), text[-3000:]
    site.refresh_from_db()
    assert site.image_digest == second and running_digests(docker_client, odoo) == {second}
    boot_s = step_seconds(job, "Boot check")
    print(f"skip refused in {refused_in:.1f} s; healthy deploy {took:.1f} s, Boot check {boot_s:.1f} s")
