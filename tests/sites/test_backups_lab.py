"""Backups on the lab (issue 18), on one deployed site shared by the module (tests/modules' shop: the
17.0 stand-in with the demo modules installed): a backup on schedule appears with its metadata, the
retention deletes exactly the rows and files it should, a drill of a good backup passes and leaves no
scratch database, a drill of a truncated dump fails naming the file (and notifies)."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from django.conf import settings
from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.models import Backup, Site
from clusters.sites.backups.backup import read_backup_lines
from clusters.sites.backups.drill import compare
from clusters.sites.backups.schedule import backups_due
from clusters.sites.backups.store import current_root, spec_at
from clusters.sites.site_spec import spec_for
from clusters.stack.backup_tasks import DRILL_DATABASE, render_backup_task, render_drill_task
from clusters.stack.one_off import _backup_task
from clusters.stack.render import render_query_task
from jobs import control, runner
from jobs.models import Job
from panel.notify.models import Channel, Delivery
from tests.modules.helpers import SiteRows, module_site
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


@pytest.fixture(scope="module")
def site_rows(lab, private_redis, django_db_setup, django_db_blocker) -> Iterator[SiteRows]:  # type: ignore[no-untyped-def]
    """One deployed site with the demo modules for the module (as tests/modules' shop_rows)."""
    client = docker.DockerClient(base_url=lab.manager_socket)
    try:
        with module_site(
            lab, client, django_db_blocker, private_redis.url(0), endpoint=lab.manager_socket
        ) as rows:
            try:
                yield rows
            finally:  # the backups under the lab's backup root outlive the site: remove them
                shutil.rmtree(Path(settings.LAB_BACKUP_ROOT) / rows.site["slug"], ignore_errors=True)
    finally:
        client.close()


@pytest.fixture
def site(site_rows, transactional_db) -> Site:  # type: ignore[no-untyped-def]
    return site_rows.restore()


def in_volume(client, site: Site, script: str, run_id: str, root: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """Run `script` in a one-off task with the site's backup folder at /backup (under `root`, by default
    the cluster's backup root), on its database node."""
    spec = spec_at(site, current_root(site) if root is None else root)
    task = _backup_task(spec, "probe", "x.dump", f"set -eu\ncd /backup\n{script}", run_id)
    code, lines = ops.run_one_off(client, task, 120, lambda _line: None)
    assert code == 0, lines
    return lines


def take(monkeypatch, site: Site) -> Backup:  # type: ignore[no-untyped-def]
    job = run_inline(monkeypatch, "backup", site, backup_kind="manual")
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    return Backup.objects.get(pk=job.result["id"])


def test_a_backup_on_schedule_appears_with_its_metadata(site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)
    Site.objects.filter(pk=site.pk).update(backup_interval_hours=1)
    [job_id] = backups_due(now=timezone.now() + datetime.timedelta(hours=2))  # the hourly tick, later
    assert runner.execute(job_id) == "succeeded", log_text(Job.objects.get(pk=job_id))[-3000:]
    backup = Backup.objects.get(site=site)
    assert (backup.kind, backup.status, backup.job_id, backup.digest) == (
        "scheduled",
        "ok",
        job_id,
        site.image_digest,
    )
    assert backup.size_bytes > 1000 and len(backup.sha256) == 64 and 0 < backup.duration_s < 120
    assert backup.modules["shop_sale"].startswith("17.0.") and {"base", "shop_base", "shop_stock"} <= set(
        backup.modules
    )
    assert backup.row_counts["ir_module_module"] >= 4 and backup.row_counts["res_users"] >= 1
    assert backup.filestore_filename.endswith(".filestore.tar.gz") and len(backup.filestore_sha256) == 64
    listed = in_volume(docker_client, site, f"sha256sum {backup.filename} {backup.filestore_filename}", "ls1")
    assert f"{backup.sha256}  {backup.filename}" in listed
    assert f"{backup.filestore_sha256}  {backup.filestore_filename}" in listed
    assert backups_due(now=timezone.now() + datetime.timedelta(minutes=30)) == []  # not due again yet


def test_retention_deletes_exactly_the_backups_outside_the_kept_set(site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    Site.objects.filter(pk=site.pk).update(backup_keep_daily=3, backup_keep_weekly=0, backup_keep_monthly=0)
    site.refresh_from_db()
    now = timezone.now()
    seeds = {  # name: (days ago, kind, status)
        "r-2.dump": (2, "scheduled", "ok"),
        "r-3.dump": (3, "scheduled", "ok"),
        "r-4.dump": (4, "scheduled", "ok"),
        "r-5.dump": (5, "manual", "ok"),
        "r-6.dump": (6, "scheduled", "failed"),
        "r-10.dump": (10, "pre-update", "ok"),
        "r-40.dump": (40, "pre-update", "ok"),
    }
    root = current_root(site)
    for name, (days, kind, status) in seeds.items():
        row = Backup.objects.create(site=site, filename=name, kind=kind, status=status, backup_root=root)
        Backup.objects.filter(pk=row.pk).update(created_at=now - datetime.timedelta(days=days))
    in_volume(docker_client, site, "touch " + " ".join(seeds), "seed")
    # One from before backup roots, in the node's volume: retention deletes it there.
    old = Backup.objects.create(site=site, filename="r-20.dump", kind="scheduled", backup_root="")
    Backup.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(days=20))
    in_volume(docker_client, site, "touch r-20.dump r-keep.dump", "seedold", root="")
    newest = take(monkeypatch, site)  # the job's retention step runs after it
    kept = set(Backup.objects.filter(site=site).values_list("filename", flat=True))
    assert kept == {newest.filename, "r-2.dump", "r-3.dump", "r-10.dump"}
    listed = set(in_volume(docker_client, site, "ls -1", "ls2"))
    assert {newest.filename, newest.filestore_filename, "r-2.dump", "r-3.dump", "r-10.dump"} <= listed
    assert not listed & {"r-4.dump", "r-5.dump", "r-6.dump", "r-40.dump"}
    assert set(in_volume(docker_client, site, "ls -1", "ls3", root="")) >= {"r-keep.dump"}
    assert "r-20.dump" not in in_volume(docker_client, site, "ls -1", "ls4", root="")


def test_a_drill_of_a_good_backup_passes_and_drops_its_scratch_database(site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    backup = take(monkeypatch, site)
    job = run_inline(monkeypatch, "drill", site, backup_id=backup.pk)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    backup.refresh_from_db()
    assert backup.drill_ok and backup.drill_result.startswith("restorable, proven at ")
    assert job.result["ok"] and backup.drilled_at is not None
    assert f"filestore archive {backup.filestore_filename} verified" in log_text(job)
    task = render_query_task(spec_for(site), "SELECT datname FROM pg_database", "dbs", database="postgres")
    code, names = ops.run_one_off(docker_client, task, 120, lambda _line: None)
    assert code == 0 and site.db_name in names and DRILL_DATABASE not in names


def test_a_drill_of_a_truncated_dump_fails_naming_the_file(site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    Channel.objects.create(name="ops", kind="webhook", url="http://127.0.0.1:9/", secret="k" * 20)
    backup = take(monkeypatch, site)
    in_volume(docker_client, site, f"truncate -s 2000 {backup.filename}", "cut")
    job = run_inline(monkeypatch, "drill", site)  # the newest good backup by default
    assert job.state == "failed" and job.result["backup_id"] == backup.pk
    assert f"backup file {backup.filename} (2000 bytes) does not match the checksum" in job.error, job.error
    backup.refresh_from_db()
    assert backup.drill_ok is False and backup.filename in backup.drill_result
    assert Delivery.objects.filter(event="drill.failed").count() == 1


def test_a_backup_lives_in_the_shared_root_and_a_task_on_another_node_restores_it(  # type: ignore[no-untyped-def]
    site, monkeypatch, docker_client, lab
):
    """Not in the database node's volume: the files are on the host under the lab's backup root (every
    node's disk), and a drill pinned to a node other than the database's restores the dump."""
    backup = take(monkeypatch, site)
    assert backup.backup_root == settings.LAB_BACKUP_ROOT == current_root(site)
    folder = Path(settings.LAB_BACKUP_ROOT) / site.slug
    for name, sha in ((backup.filename, backup.sha256), (backup.filestore_filename, backup.filestore_sha256)):
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha
    assert backup.filename not in in_volume(docker_client, site, "ls -1", "lsold", root="")
    other = next(n.hostname for n in lab.nodes if n.hostname != site.db_node)
    spec = spec_at(site, backup.backup_root)
    drill = render_drill_task(
        spec,
        backup.filename,
        backup.sha256,
        "far",
        archive=(backup.filestore_filename, backup.filestore_sha256),
    )
    drill = dataclasses.replace(drill, constraints=[f"node.hostname=={other}"])
    ran_on: set[str] = set()

    def note_node(_line: str) -> None:  # called while the finished task still exists
        ran_on.update(t["NodeID"] for t in docker_client.services.get(drill.name).tasks())

    code, lines = ops.run_one_off(docker_client, drill, 300, note_node)
    assert code == 0 and "restored" in lines, lines
    assert ran_on == {lab.node(other).node_id}
    restored = read_backup_lines(lines)
    assert compare(backup, restored) == [], restored
    assert f"filestore archive {backup.filestore_filename} verified" in lines


def test_a_backup_from_before_backup_roots_is_still_drilled_in_the_nodes_volume(
    site, monkeypatch, docker_client
):  # type: ignore[no-untyped-def]
    task = render_backup_task(spec_at(site, ""), "legacy.dump", "legacy")
    code, lines = ops.run_one_off(docker_client, task, 300, lambda _line: None)
    assert code == 0, lines
    facts = read_backup_lines(lines)
    backup = Backup.objects.create(
        site=site,
        filename="legacy.dump",
        backup_root="",
        sha256=facts["sha256"],
        modules=facts["modules"],
        row_counts=facts["row_counts"],
    )
    assert "legacy.dump" in in_volume(docker_client, site, "ls -1", "lslegacy", root="")
    job = run_inline(monkeypatch, "drill", site, backup_id=backup.pk)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert not (Path(settings.LAB_BACKUP_ROOT) / site.slug / "legacy.dump").exists()


def logins(client, site: Site, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    task = render_query_task(spec_for(site), "SELECT login FROM res_users ORDER BY id", run_id)
    code, lines = ops.run_one_off(client, task, 120, lambda _line: None)
    assert code == 0, lines
    return lines


def test_a_restore_brings_the_backup_back_and_a_damaged_dump_changes_nothing(
    site, monkeypatch, docker_client
):  # type: ignore[no-untyped-def]
    before = logins(docker_client, site, "rq1")
    backup = take(monkeypatch, site)
    changed = render_query_task(spec_for(site), "UPDATE res_users SET login = login || '-changed'", "rq2")
    assert ops.run_one_off(docker_client, changed, 120, lambda _line: None)[0] == 0
    job = run_inline(monkeypatch, "restore", site, backup_id=backup.pk)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert logins(docker_client, site, "rq3") == before
    # A dump damaged on the backup root: refused on its checksum before --clean drops anything.
    assert ops.run_one_off(docker_client, changed, 120, lambda _line: None)[0] == 0
    try:
        in_volume(docker_client, site, f"truncate -s 2000 {backup.filename}", "rcut")
        job = run_inline(monkeypatch, "restore", site, backup_id=backup.pk)
        assert job.state == "failed" and "does not match the checksum recorded" in job.error, job.error
        assert logins(docker_client, site, "rq4") == [f"{login}-changed" for login in before]
    finally:  # the module's site serves the other tests with its own logins
        undo = "UPDATE res_users SET login = left(login, -8) WHERE login LIKE '%-changed'"
        ops.run_one_off(
            docker_client, render_query_task(spec_for(site), undo, "rq5"), 120, lambda _line: None
        )
