"""The gate on a new image, without the lab: the image's addons are read by the same script the
one-off task runs (here on a folder tree), judged against the site's installed modules, and a block
is stored as the image's manifest change, which an override lets through."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clusters import swarm_ops as ops
from clusters.approvals import services
from clusters.approvals.models import ChangeSource, ManifestChange
from clusters.sites import image_gate
from clusters.sites.site_spec import spec_for
from tests import factories
from tests.gate.conftest import manifest_text

pytestmark = pytest.mark.django_db

CORE = {"base": [], "web": ["base"], "mail": ["base", "web"], "sale": ["base"], "mail_bot": ["mail"]}
INSTALLED = ["base", "web", "sale", "shop"]
READ_AT = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A folder tree standing for the image; run_one_off runs the task's own script over it."""
    core, extra = tmp_path / "core", tmp_path / "extra"
    for name, depends in CORE.items():
        write(core, name, depends, auto_install=name == "mail_bot")
    write(extra, "shop", ["sale", "mail"])  # the new code: `mail` is new
    ran: list[str] = []

    def run_one_off(client: Any, task: Any, deadline: float, log: Any) -> tuple[int, list[str]]:
        ran.append(task.name)
        argv = [sys.executable, "-c", task.command[2], json.dumps([str(core)]), str(extra)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout.splitlines()

    monkeypatch.setattr(ops, "run_one_off", run_one_off)
    return {"ran": ran}


def write(base: Path, name: str, depends: list[str], **extra: Any) -> None:
    (base / name).mkdir(parents=True)
    (base / name / "__manifest__.py").write_text(manifest_text(depends, **extra))


def site_with(installed: list[str], **kw: Any) -> Any:
    rows = {name: ["installed", "1.0"] for name in installed}
    depends = {"shop": ["sale"], "web": ["base"], "sale": ["base"]}
    return factories.site(factories.cluster(), installed_modules=rows, module_depends=depends, **kw)


def gate(site: Any, digest: str = "sha256:" + "b" * 64) -> list[str]:
    spec = replace(spec_for(site), image_digest=digest, series="17.0")
    lines: list[str] = []
    image_gate.gate_image(None, site, spec, run_id="r1", log=lines.append, actor=None, actor_name="cli:ops")
    return lines


def test_a_block_refuses_names_the_install_and_is_stored(image: dict[str, Any]) -> None:
    site = site_with(INSTALLED, modules_read_at=READ_AT, image_digest="sha256:" + "a" * 64)
    with pytest.raises(ops.Refused) as refused:
        gate(site)
    text = str(refused.value)
    assert "`-u` would install: mail, and 1 auto-install module (mail_bot)" in text and "shop" in text
    change = ManifestChange.objects.get(site=site, source=ChangeSource.IMAGE)
    assert change.state == "blocked" and change.submitted_by_name == "cli:ops"
    assert f"#{change.pk}" in text
    assert list(change.addons.values_list("name", flat=True)) == ["shop"]

    with pytest.raises(ops.Refused):  # the same digest again: the same change, still blocked
        gate(site)
    assert ManifestChange.objects.filter(site=site).count() == 1

    services.override(change.pk, factories.user("admin1", role="admin"), "mail is installed by hand first")
    assert any("lets this digest through" in line for line in gate(site))


def test_nothing_read_or_nothing_new_reads_no_image(image: dict[str, Any]) -> None:
    never_read = site_with(INSTALLED)
    assert "never read" in gate(never_read)[0]
    same = site_with(INSTALLED, modules_read_at=READ_AT, image_digest="sha256:" + "b" * 64)
    assert "already runs this digest" in gate(same)[0]
    assert image["ran"] == []


def test_an_image_that_installs_nothing_new_passes(image: dict[str, Any]) -> None:
    site = site_with([*INSTALLED, "mail"], modules_read_at=READ_AT)
    assert gate(site)[-1] == "the gate: passes"
    assert not ManifestChange.objects.filter(site=site).exists()


def test_an_override_covers_its_digest_only_and_one_from_before_bindings_none(image: dict[str, Any]) -> None:
    from clusters.approvals.models import Decision
    from panel.models import AuditEvent

    site = site_with(INSTALLED, modules_read_at=READ_AT, image_digest="sha256:" + "a" * 64)
    digest = "sha256:" + "b" * 64
    with pytest.raises(ops.Refused):
        gate(site, digest)
    change = ManifestChange.objects.get(site=site)
    assert change.image_digest == digest and change.manifest_fingerprint.startswith("sha256:")
    services.override(change.pk, factories.user("admin2", role="admin"), "mail is installed by hand first")
    decision = Decision.objects.get(change=change)
    assert (decision.image_digest, decision.manifest_fingerprint) == (digest, change.manifest_fingerprint)
    with pytest.raises(ops.Refused):  # another digest with the same addons: its own decision
        gate(site, "sha256:" + "c" * 64)

    Decision.objects.filter(pk=decision.pk).update(image_digest="", manifest_fingerprint="")  # before 0004
    with pytest.raises(ops.Refused) as refused:
        gate(site, digest)
    fresh = ManifestChange.objects.filter(site=site, source_name=f"image {digest}").latest("id")
    assert fresh.pk != change.pk and fresh.state == "blocked" and f"#{fresh.pk}" in str(refused.value)
    event = AuditEvent.objects.get(action="manifest.binding_refused")
    assert event.target_id == str(change.pk) and event.after["image_digest"] == digest
