"""The module update on the lab (issue 6): the safe sequence, and what it guarantees."""

import pytest

from clusters.models import Backup
from tests.modules.helpers import result_of
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def test_update_success(shop, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    job = run_inline(monkeypatch, "module_update", shop, modules=["shop_base"])
    text = log_text(job)
    assert job.state == "succeeded", job.error + text[-3000:]
    result = result_of(job)
    assert result["verdict"]["ok"] and result["versions"]["shop_base"].startswith("17.0.")
    assert result["backup"]["size_bytes"] > 0 and result["backup"]["kind"] == "pre-update"
    assert Backup.objects.filter(site=shop, kind="pre-update").count() == 1
    assert "Modules loaded." in text and "recorded replicas" in text and "replicas restored" in text
    steps = {s["name"]: s["state"] for s in job.steps}
    assert all(state == "succeeded" for state in steps.values()), steps
    service = docker_client.services.get(f"{shop.slug}_odoo")
    assert service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert not docker_client.services.list(filters={"name": f"{shop.slug}_update"})
    shop.refresh_from_db()
    assert shop.installed_modules["shop_base"][0] == "installed" and shop.status == "healthy"


def test_refusals_change_nothing(shop, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    for modules, message in (
        (["all"], "refusing to update 'all'"),
        (["shop;rm"], "not a plain module name"),
        (["sale_subscription"], "not installed"),
    ):
        job = run_inline(monkeypatch, "module_update", shop, modules=modules)
        assert job.state == "failed" and message in job.error, job.error
        assert message in (job.result or {}).get("refused", ""), job.result  # `site update` exits 2
    assert (
        docker_client.services.get(f"{shop.slug}_odoo").attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    )
