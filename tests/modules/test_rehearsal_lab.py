"""The rehearsal on the lab (issue 18): `-u` on a neutralized copy while production serves.

One site for the module (shop_base <- shop_sale, shop_stock installed), in this order: a good
rehearsal, one whose copy cannot be verified as neutralized (fail closed), and one of an image whose
shop_base fails, compared with the real update of that image; then one whose copy is looked into
while it exists: it holds production's filestore files, byte for byte. While each rehearsal runs a thread
polls production every 200 ms: its running replicas never drop and its services never change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker
import pytest

from clusters import swarm_ops as ops
from clusters.models import Rehearsal
from clusters.sites.module_update import rehearsal
from clusters.sites.neutralized_copy import read_neutralization
from clusters.sites.site_spec import spec_for
from clusters.stack.db_copy import render_filestore_drop_task
from clusters.stack.render import render_query_task
from tests.modules.helpers import (
    healthy_before,
    one_offs,
    push_variant,
    redeploy,
    result_of,
    running_tasks,
)
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

POLL_S = 0.2
# Production's own mail server, and a trigger (copied with the database, as any trigger is) that
# keeps it active whatever `odoo neutralize` does: a copy that cannot be neutralized.
STUBBORN_MAIL = """
INSERT INTO ir_mail_server (name, smtp_host, smtp_port, active) VALUES ('rh-test', 'smtp.rh.test', 587, true);
CREATE FUNCTION rh_keep_mail() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.active := true; RETURN NEW; END $$;
CREATE TRIGGER rh_keep_mail BEFORE UPDATE ON ir_mail_server
  FOR EACH ROW WHEN (OLD.smtp_host = 'smtp.rh.test') EXECUTE FUNCTION rh_keep_mail();
"""
UNDO_STUBBORN_MAIL = """
DROP TRIGGER IF EXISTS rh_keep_mail ON ir_mail_server; DROP FUNCTION IF EXISTS rh_keep_mail();
DELETE FROM ir_mail_server WHERE smtp_host = 'smtp.rh.test';
"""


@dataclass
class Watch:
    """Production seen from outside, every POLL_S, on a client of its own."""

    socket: str
    slug: str
    running: list[int] = field(default_factory=list)
    services: set[tuple[str, int, str]] = field(default_factory=set)  # (name, version, UpdatedAt)
    stop: threading.Event = field(default_factory=threading.Event)

    def poll(self) -> None:
        client = docker.DockerClient(base_url=self.socket)
        try:
            while not self.stop.is_set():
                self.running.append(running_tasks(client, f"{self.slug}_odoo", wanted=True))
                for role in ("odoo", "cron", "db"):
                    attrs = client.services.get(f"{self.slug}_{role}").attrs
                    self.services.add((role, attrs["Version"]["Index"], attrs["UpdatedAt"]))
                self.stop.wait(POLL_S)
        finally:
            client.close()


@pytest.fixture
def watched(lab, shop, docker_client) -> Iterator[Watch]:  # type: ignore[no-untyped-def]
    healthy_before(docker_client, shop.slug)
    watch = Watch(lab.manager_socket, shop.slug)
    thread = threading.Thread(target=watch.poll, daemon=True)
    thread.start()
    yield watch
    watch.stop.set()
    thread.join(30)


def untouched(watch: Watch, before: int = 2) -> None:
    watch.stop.set()
    assert len(watch.running) > 5, watch.running  # it polled the whole time
    assert min(watch.running) >= before, watch.running
    assert len(watch.services) == 3, watch.services  # one version of each service throughout


def databases(client: docker.DockerClient, shop: Any) -> list[str]:
    sql = "SELECT datname FROM pg_database ORDER BY 1"
    task = render_query_task(spec_for(shop), sql, "rhls", database="postgres")
    code, lines = ops.run_one_off(client, task, 120, lambda _: None)
    assert code == 0, lines
    return [line.strip() for line in lines if line.strip()]


def sql(client: docker.DockerClient, shop: Any, text: str) -> None:
    code, lines = ops.run_one_off(client, render_query_task(spec_for(shop), text, "rhsql"), 120, print)
    assert code == 0, lines


def test_a_good_rehearsal_passes_and_production_never_moves(shop, watched, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    job = run_inline(monkeypatch, "rehearsal", shop, modules=["shop_base"], image="")
    untouched(watched)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    result = result_of(job)
    assert result["ok"] and result["neutralized"] and result["verdict"]["ok"], result
    assert result["neutralization"] == {
        "database": f"{shop.db_name}_rh{job.pk}",
        "mail_servers": 0,
        "crons": 0,
        "flag": "true",
    }
    assert result["digest"] == shop.image_digest and result["modules"] == ["shop_base"]
    assert 0 < result["update_s"] < result["duration_s"]
    assert "Modules loaded." in log_text(job)
    assert f"{shop.db_name}_rh{job.pk}" not in databases(docker_client, shop)  # the copy is gone
    assert one_offs(docker_client, shop.slug) == [] and job.compensation == []
    production = read_neutralization(docker_client, spec_for(shop), shop.db_name, "rhchk", print)
    assert production.flag == "" and production.crons > 0  # production was never neutralized
    row = Rehearsal.last_of(shop, shop.image_digest, ["shop_base"])
    assert row is not None and row.ok and row.job_id == job.pk


def test_a_copy_that_stays_able_to_send_mail_fails_closed(shop, watched, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    sql(docker_client, shop, STUBBORN_MAIL)
    try:
        job = run_inline(monkeypatch, "rehearsal", shop, modules=["shop_base"], image="")
    finally:
        sql(docker_client, shop, UNDO_STUBBORN_MAIL)
    untouched(watched)
    assert job.state == "failed", log_text(job)[-3000:]
    assert "neutralization is not verified (1 mail servers still active)" in job.error, job.error
    text = log_text(job)
    assert "Neutralization finished" in text  # Odoo's neutralize ran and said it was done...
    assert "odoo -d" not in text and "Modules loaded." not in text  # ...and nothing ran on the copy
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Update the copy"] == "skipped" and steps["Drop the copy"] == "succeeded", steps
    assert f"{shop.db_name}_rh{job.pk}" not in databases(docker_client, shop)
    assert one_offs(docker_client, shop.slug) == [] and not Rehearsal.objects.exists()


def test_a_failing_update_fails_the_rehearsal_as_it_fails_the_update(  # type: ignore[no-untyped-def]
    shop, watched, lab, monkeypatch, docker_client
):
    serving = shop.image_digest
    failing = push_variant(lab, docker_client, shop, ["ENV ODOO_STANDIN_FAIL=shop_base"])
    job = run_inline(monkeypatch, "rehearsal", shop, modules=["shop_base"], image=shop.image)
    untouched(watched)
    assert job.state == "failed", log_text(job)[-3000:]
    rehearsed = result_of(job)
    assert rehearsed["digest"] == failing != serving and not rehearsed["ok"]
    assert job.error.startswith("the rehearsed update failed: odoo exited with status 255"), job.error
    shop.refresh_from_db()
    assert shop.image_digest == serving  # production still runs what it ran
    assert f"{shop.db_name}_rh{job.pk}" not in databases(docker_client, shop)
    row = Rehearsal.last_of(shop, failing, ["shop_base"])
    assert row is not None and not row.ok and row.reasons == rehearsed["verdict"]["reasons"]

    # The real update of that image, for comparison: the same verdict.
    shop = redeploy(monkeypatch, shop)
    update = run_inline(monkeypatch, "module_update", shop, modules=["shop_base"], backup=False)
    assert update.state == "failed", log_text(update)[-3000:]
    real = result_of(update)["verdict"]
    # The same verdict, the copy's name for production's (Odoo names the database it failed on).
    copy = f"{shop.db_name}_rh{job.pk}"
    verdict = json.loads(json.dumps(rehearsed["verdict"]).replace(copy, shop.db_name))
    assert {k: v for k, v in real.items() if k != "error_lines"} == {
        k: v for k, v in verdict.items() if k != "error_lines"
    }
    assert [line.split(" ", 3)[-1] for line in real["error_lines"]] == [  # less the time and pid
        line.split(" ", 3)[-1] for line in verdict["error_lines"]
    ]


def tree(folder: Path) -> dict[str, str]:
    """Each file under `folder` (relative path) and the sha256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


def rehearsal_volume_tree(client: docker.DockerClient, shop: Any, copy: str) -> dict[str, str] | None:
    """The same of `filestore/<copy>` in the site's rehearsal volume, read by a one-off on the
    database's node (where the volume is); None when the folder does not exist."""
    script = (
        'cd "/rehearsal/filestore/$0" 2>/dev/null || { echo ABSENT; exit 0; }; '
        "find . -type f -exec sha256sum {} +"
    )
    removal = render_filestore_drop_task(spec_for(shop), copy, "rhls")
    task = replace(removal, name=f"{shop.slug}_fslist_rhls", command=["sh", "-c", script, copy])
    code, lines = ops.run_one_off(client, task, 120, lambda _: None)
    assert code == 0, lines
    if "ABSENT" in lines:
        return None
    return {
        name.removeprefix("./"): digest for digest, name in (line.split(None, 1) for line in lines if line)
    }


def test_the_rehearsal_copy_holds_productions_filestore_files(shop, watched, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    production = Path(shop.bind_path) / "filestore" / shop.db_name
    added = production / "rh"
    added.mkdir(parents=True, exist_ok=True)
    for size in (1, 5000, 300_000):  # attachment files, named by their content as Odoo names them
        data = os.urandom(size)
        (added / hashlib.sha256(data).hexdigest()[:40]).write_bytes(data)
    before = tree(production)
    seen: dict[str, Any] = {}
    update_copy = rehearsal.run_followed

    def look_into_the_copy(runner: Any, client: Any, task: Any, **kw: Any) -> Any:
        seen["copy"] = task.labels["panel.copy"]
        seen["files"] = rehearsal_volume_tree(docker_client, shop, seen["copy"])
        return update_copy(runner, client, task, **kw)

    monkeypatch.setattr(rehearsal, "run_followed", look_into_the_copy)
    try:
        job = run_inline(monkeypatch, "rehearsal", shop, modules=["shop_base"], image="")
        after = tree(production)
    finally:
        shutil.rmtree(added)
    untouched(watched)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert seen["copy"] == f"{shop.db_name}_rh{job.pk}"
    assert seen["files"] == before and len(before) >= 3  # every file of production, the same bytes
    assert after == before  # production's filestore neither lost nor gained a file
    assert result_of(job)["copy"]["filestore"]["files"] == len(before)
    assert rehearsal_volume_tree(docker_client, shop, seen["copy"]) is None  # removed with the copy
    assert one_offs(docker_client, shop.slug) == [] and job.compensation == []
