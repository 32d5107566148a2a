"""The rehearsal (issue 18) without a Swarm: `site rehearse` refuses bad input before a job exists
(exit 2), a copy whose neutralization cannot be verified fails closed (nothing runs on it, it is
dropped), and the update plan names the last rehearsal of the same digest and modules.

The engine's edge is faked: the steps that talk to Swarm (reading the modules, the copy, its
`-u`, the drop) are replaced in the runner's module; tests/modules/test_rehearsal_lab.py runs them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import engine
from clusters.models import Rehearsal, Site
from clusters.sites.module_update import rehearsal
from clusters.sites.neutralized_copy import Copied, Neutralization
from clusters.sites.odoo_log import Verdict
from jobs import control
from jobs.models import Job
from tests import factories
from tests.commands import run
from tests.sites.jobrun import log_text, run_inline

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "d" * 64
INSTALLED = {"base": ["installed", "17.0.1.3"], "shop_base": ["installed", "17.0.1.0.0"]}


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)
    return factories.site(
        factories.cluster(),
        slug="acme",
        db_name="acme",
        image_digest=DIGEST,
        installed_modules=INSTALLED,
        modules_read_at=timezone.now(),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("acme", "--modules", "all"), "all"),
        (("acme", "--modules", "base"), "base"),
        (("acme", "--modules", "shop;rm"), "not a plain module name"),
        (("acme", "--modules", "sale_subscription"), "not installed"),
        (("nosuch", "--modules", "shop_base"), "no site 'nosuch'"),
        (("acme", "--modules", "shop_base", "--image", "Not An Image!"), "--image"),
        (("acme", "--modules", "shop_base", "--image", "reg/odoo@sha256:abc"), "--image"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_no_job(site: Site, args: tuple[str, ...], message: str) -> None:
    code, out, error = run("site", "rehearse", *args, "--json")
    assert code == 2 and message in error, error
    assert out == "" and not Job.objects.exists()


def test_a_rehearsal_is_started_as_a_job_that_takes_no_lock(site: Site) -> None:
    code, out, _ = run(
        "site", "rehearse", "acme", "--modules", "shop_base", "--image", "reg/odoo:18", "--json"
    )
    job = Job.objects.get()
    assert code == 0 and json.loads(out) == {"job": job.pk}
    assert job.kind == "rehearsal" and job.params == {"modules": ["shop_base"], "image": "reg/odoo:18"}
    code, _, _ = run("site", "rehearse", "acme", "--modules", "shop_base")  # no lock: a second one starts
    assert code == 0 and Job.objects.filter(kind="rehearsal").count() == 2
    code, _, _ = run("site", "update", "acme", "--modules", "shop_base")  # nor does it hold the site
    assert code == 0


class Swarm:
    """The runner's edge to Swarm, recorded: what was copied, run and dropped."""

    def __init__(self, neutralization: Neutralization, verdict: Verdict | None = None) -> None:
        self.neutralization = neutralization
        self.verdict = verdict or Verdict(ok=True, exit_code=0)
        self.calls: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        @contextlib.contextmanager
        def client_for(cluster: Any, timeout: int = 0) -> Iterator[object]:
            yield object()

        monkeypatch.setattr(engine, "client_for", client_for)
        monkeypatch.setattr(rehearsal, "read_modules", lambda *a, **k: INSTALLED)
        monkeypatch.setattr(rehearsal, "copy_database", self._copy)
        monkeypatch.setattr(rehearsal, "neutralize", lambda *a: self.neutralization)
        monkeypatch.setattr(rehearsal, "copy_filestore", self._filestore)
        monkeypatch.setattr(
            rehearsal, "drop_copy", lambda c, spec, target, *a: self.calls.append(f"drop {target}")
        )
        monkeypatch.setattr(rehearsal, "run_followed", self._run)
        monkeypatch.setattr(rehearsal, "judge", lambda *a, **k: self.verdict)

    def _copy(self, client: Any, spec: Any, target: str, run_id: str, log: Any) -> Copied:
        self.calls.append(f"copy {target}")
        return Copied(5_000_000, 2.0)

    def _filestore(self, client: Any, spec: Any, target: str, run_id: str, log: Any) -> Copied:
        self.calls.append(f"filestore {target}")
        return Copied(3_000, 0.5, files=3)

    def _run(self, runner: Any, client: Any, task: Any, **_: Any) -> tuple[int, list[str], float]:
        self.calls.append(f"run {' '.join(task.args[:5])} on {task.image}")
        return 0, ["Modules loaded."], 2.5


def test_a_copy_whose_neutralization_is_not_verified_fails_closed(site: Site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    swarm = Swarm(Neutralization("acme_rh1", mail_servers=1, crons=0, flag="True"))
    swarm.install(monkeypatch)
    job = run_inline(monkeypatch, "rehearsal", site, modules=["shop_base"], image="")
    assert job.state == "failed" and "neutralization is not verified" in job.error, log_text(job)
    assert "1 mail servers still active" in job.error
    copy = f"acme_rh{job.pk}"
    assert swarm.calls == [f"copy {copy}", f"drop {copy}"]  # nothing ran on it, and it is gone
    assert job.result["neutralized"] is False and "refused" not in job.result  # `--wait` exits 1
    assert job.compensation == [] and not Rehearsal.objects.exists()
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps == {
        "Check": "succeeded",
        "Copy and neutralize": "failed",
        "Update the copy": "skipped",
        "Drop the copy": "succeeded",
    }


def test_a_rehearsal_reports_and_records_its_verdict(site: Site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    swarm = Swarm(Neutralization("acme_rh1", mail_servers=0, crons=0, flag="True"))
    swarm.install(monkeypatch)
    job = run_inline(monkeypatch, "rehearsal", site, modules=["shop_base"], image="")
    assert job.state == "succeeded", job.error + log_text(job)
    copy = f"acme_rh{job.pk}"
    assert (
        swarm.calls
        == [
            f"copy {copy}",
            f"filestore {copy}",  # once the copy is verified as neutralized
            f"run odoo -d {copy} -u shop_base on {site.image[:-5]}@{DIGEST}",
            f"drop {copy}",
        ]
    )
    result = job.result
    assert {"ok", "duration_s", "update_s", "neutralized", "digest", "modules", "verdict"} <= set(result)
    assert (result["ok"], result["update_s"], result["neutralized"]) == (True, 2.5, True)
    assert (result["digest"], result["modules"]) == (DIGEST, ["shop_base"])
    assert result["copy"] == {
        "database": {"bytes": 5_000_000, "seconds": 2.0, "files": None},
        "filestore": {"bytes": 3_000, "seconds": 0.5, "files": 3},
    }
    assert Rehearsal.last_of(site, DIGEST, ["shop_base"]).job_id == job.pk  # type: ignore[union-attr]

    swarm.verdict = Verdict(ok=False, exit_code=255, reasons=["odoo exited with status 255"])
    job = run_inline(monkeypatch, "rehearsal", site, modules=["shop_base"], image="")
    assert job.state == "failed" and job.error.startswith("the rehearsed update failed: odoo exited")
    assert job.result["verdict"]["exit_code"] == 255 and swarm.calls[-1] == f"drop acme_rh{job.pk}"
    last = Rehearsal.last_of(site, DIGEST, ["shop_base"])
    assert last is not None and not last.ok and last.reasons == ["odoo exited with status 255"]


def test_the_update_plan_names_the_last_rehearsal_and_offers_one(site: Site, personas) -> None:  # type: ignore[no-untyped-def]
    client = personas.client("operator")
    url = reverse("site-update-modules", args=[site.slug])
    page = client.post(url, {"modules": ["shop_base"]}).content.decode()
    assert "Never rehearsed on this digest" in page and 'name="rehearse"' in page
    Rehearsal.objects.create(
        site=site,
        job_id=41,
        digest=DIGEST,
        modules=["shop_base"],
        ok=True,
        update_s=3.2,
        finished_at=timezone.now(),
    )
    Rehearsal.objects.create(  # another digest: not this update's
        site=site,
        job_id=42,
        digest="sha256:" + "e" * 64,
        modules=["shop_base"],
        ok=False,
        finished_at=timezone.now(),
    )
    page = client.post(url, {"modules": ["shop_base"]}).content.decode()
    assert "Last rehearsal of these modules on this digest" in page and "passed" in page and "3.2 s" in page
    response = client.post(url, {"modules": ["shop_base"], "confirm": "yes", "rehearse": "yes"})
    assert response.status_code in (200, 302)
    job = Job.objects.get()
    assert job.kind == "rehearsal" and job.params["modules"] == ["shop_base"]
