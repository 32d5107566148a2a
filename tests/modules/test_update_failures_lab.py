"""Updates that fail (issue 6): a module that raises (exit 255) and a dependency whose code vanished
(exit 0 with an ERROR line). Either way the job fails with Odoo's reason, its replicas come back, and
no one-off service is left. The new code reaches the site as a new image pushed under the site's tag,
then deployed (digest pinned), then the update; code whose dependency is gone never passes the
panel's deploy (the gate refuses it), so there it is put in place by hand, as it would have been
before the gate existed.
"""

import re

import pytest

from tests.modules.helpers import (
    deploy_and_install,
    manifest_line,
    push_variant,
    put_in_place,
    redeploy,
    result_of,
    site_is_back,
)
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

SHOP_BASE = {
    "name": "Shop Base (demo)",
    "version": "17.0.1.0.1",
    "depends": ["sale"],
    "license": "LGPL-3",
    "installable": True,
}


def test_a_module_that_fails_exit_255(make_site, monkeypatch, docker_client, lab):  # type: ignore[no-untyped-def]
    site = deploy_and_install(monkeypatch, make_site())
    push_variant(lab, docker_client, site, [manifest_line("shop_base", {**SHOP_BASE, "standin_fail": True})])
    site = redeploy(monkeypatch, site)

    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)

    assert job.state == "failed", log_text(job)[-3000:]
    verdict = result_of(job)["verdict"]
    assert verdict["exit_code"] == 255 and not verdict["ok"]
    assert "odoo exited with status 255" in job.error
    # Odoo's ERROR/CRITICAL lines and the traceback's last line (the cause) come first: right under
    # the one-line summary of the error...
    first, *rest = job.error.splitlines()
    assert first.startswith("the update failed: odoo exited with status 255")
    logged = [line for line in rest if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert logged and all(" ERROR " in line or " CRITICAL " in line for line in logged), rest
    assert all(re.match(r"[\w.]+(Error|Exception): ", line) for line in rest if line not in logged), rest
    assert any("Failed to initialize database" in line for line in rest)
    # ...and they are the last words of the log, on stderr.
    stderr = list(job.lines.filter(stream="stderr").order_by("seq").values_list("text", flat=True))
    assert any("CRITICAL" in line and "Failed to initialize database" in line for line in stderr[-6:])
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Update"] == "failed" and steps["Restore replicas"] == "succeeded", steps
    assert site_is_back(docker_client, site.slug) == ""
    # Odoo reset the transient states: the site can be updated again once the code is fixed.
    site.refresh_from_db()
    assert site.installed_modules["shop_base"][0] == "installed"


def test_unmet_dependency_exit_0(make_site, monkeypatch, docker_client, lab):  # type: ignore[no-untyped-def]
    # sale_subscription's code is there at first, so the install's module list registers a row for
    # it (uninstalled)...
    site = make_site()
    subscription = {
        "name": "Subscriptions",
        "version": "17.0.1.0.0",
        "depends": ["sale"],
        "license": "LGPL-3",
    }
    push_variant(lab, docker_client, site, [manifest_line("sale_subscription", subscription)])
    site = deploy_and_install(monkeypatch, site)
    # ...then shop_base depends on it and its code is gone (a dependency not installed in production).
    depends = {**SHOP_BASE, "depends": ["sale", "sale_subscription"]}
    digest = push_variant(lab, docker_client, site, [manifest_line("shop_base", depends)])
    site = put_in_place(docker_client, site, digest)  # the panel's deploy would refuse this image

    job = run_inline(monkeypatch, "module_update", site, modules=["shop_base"], backup=False)

    assert job.state == "failed", log_text(job)[-3000:]
    verdict = result_of(job)["verdict"]
    assert verdict["exit_code"] == 0, verdict  # Odoo says nothing went wrong...
    vanished = {"shop_base", "shop_sale", "shop_stock"}
    assert vanished <= set(verdict["vanished"]), verdict  # ...while three modules left the registry
    assert verdict["unmet"]["shop_base"] == ["sale_subscription"]
    first = job.error.splitlines()[0]
    assert all(name in first for name in vanished), first
    assert "Some modules are not loaded" in job.error
    assert any("Some modules are not loaded" in line for line in verdict["error_lines"])
    assert site_is_back(docker_client, site.slug) == ""
