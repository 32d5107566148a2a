"""Where the backup tasks keep a site's backups (issue 18): the site's folder under its cluster's backup
root, which every node reaches (an NFS export; on the lab a folder inside the lab's filestore root),
mounted read-write by the tasks that write it (backup, prune) and read-only by those that only read it
(restore, drill); the host rule judges that mount as it judges a filestore. A backup from before backup
roots is still read from the node-local volume its row points to."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clusters.models import Cluster
from clusters.stack import SpecError
from clusters.stack.backup_store import parse_backup_root, site_backup_store
from clusters.stack.backup_tasks import render_backup_task, render_drill_task, render_prune_task
from clusters.stack.one_off import render_restore_task
from clusters.stack.spec import BindFilestore, NfsFilestore
from clusters.validators import validate_backup_root
from tests import factories

LAB_ROOT = "/var/lib/oplab/filestore"
TASKS: dict[str, tuple[Callable[[Any], Any], bool]] = {  # renderer, whether it only reads /backup
    "backup": (lambda s: render_backup_task(s, "acme.dump", "j1"), False),
    "prune": (lambda s: render_prune_task(s, ["acme.dump"], "j1"), False),
    "restore": (lambda s: render_restore_task(s, "acme.dump", "j1"), True),
    "drill": (lambda s: render_drill_task(s, "acme.dump", "0" * 64, "j1"), True),
}


def backup_mount_of(task: Any) -> dict[str, Any]:
    [mount] = [m for m in task.mounts if m["Target"] == "/backup"]
    return dict(mount)


def lab_spec(root: str = f"{LAB_ROOT}/_backups") -> Any:
    return factories.site_spec(
        cluster_mode="lab",
        lab_filestore_root=LAB_ROOT,
        filestore=BindFilestore(path=f"{LAB_ROOT}/acme"),
        backup_store=site_backup_store(root, "acme"),
    )


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_on_the_lab_every_backup_task_mounts_the_sites_folder_of_the_shared_root(kind: str) -> None:
    render, reads_only = TASKS[kind]
    mount = backup_mount_of(render(lab_spec()))
    assert (mount["Type"], mount["Source"]) == ("bind", f"{LAB_ROOT}/_backups/acme")
    assert bool(mount.get("ReadOnly")) is reads_only


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_in_production_every_backup_task_mounts_the_sites_folder_of_the_nfs_export(kind: str) -> None:
    render, reads_only = TASKS[kind]
    spec = factories.site_spec(backup_store=site_backup_store("nas1:/srv/backups", "acme"))
    mount = backup_mount_of(render(spec))
    assert mount["Type"] == "volume" and mount["Source"].startswith("acme_backups_")
    options = mount["VolumeOptions"]["DriverConfig"]
    assert options["Name"] == "local"
    assert options["Options"] == {
        "type": "nfs",
        "o": "addr=nas1,rw,nfsvers=4,hard",
        "device": ":/srv/backups/acme",
    }
    assert bool(mount.get("ReadOnly")) is reads_only


def test_the_backup_also_reads_the_filestore_and_stays_on_the_database_node() -> None:
    task = render_backup_task(lab_spec(), "acme.dump", "j1")
    assert [(m["Target"], bool(m.get("ReadOnly"))) for m in task.mounts] == [
        ("/backup", False),
        ("/var/lib/odoo", True),
    ]
    assert task.constraints == ["node.hostname==db1"]


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_a_backup_from_before_backup_roots_is_read_from_the_nodes_volume(kind: str) -> None:
    render, reads_only = TASKS[kind]
    mount = backup_mount_of(render(factories.site_spec(backup_store=site_backup_store("", "acme"))))
    assert (mount["Type"], mount["Source"]) == ("volume", "acme_backups")
    assert "DriverConfig" not in (mount.get("VolumeOptions") or {})
    assert bool(mount.get("ReadOnly")) is reads_only


@pytest.mark.parametrize(
    "root, reason",
    [
        ("/var/lib/oplab/backups", "is not a folder inside the lab's filestore root"),
        ("/etc", "a system folder of the host"),
    ],
)
def test_the_host_rule_judges_a_lab_backup_root_as_it_judges_a_lab_filestore(root: str, reason: str) -> None:
    with pytest.raises(SpecError, match=reason):
        render_backup_task(lab_spec(root), "acme.dump", "j1")


def test_a_host_folder_is_no_backup_root_outside_the_lab() -> None:
    spec = factories.site_spec(backup_store=site_backup_store("/srv/backups", "acme"))
    with pytest.raises(SpecError, match="refused outside the lab"):
        render_drill_task(spec, "acme.dump", "")
    cluster = Cluster(name="prod", endpoint="unix:///var/run/docker.sock", backup_root="/srv/backups")
    with pytest.raises(ValidationError, match="a node's disk: name an NFS export"):
        cluster.clean()


def test_a_backup_root_is_an_nfs_export_or_a_plain_folder() -> None:
    assert parse_backup_root("") is None
    assert parse_backup_root("nas1:/srv/backups/") == NfsFilestore(server="nas1", export="/srv/backups")
    assert parse_backup_root("/var/lib/oplab/filestore/_backups") == BindFilestore(
        path="/var/lib/oplab/filestore/_backups"
    )
    for bad in ("nas1", "nas1:srv", "nas 1:/srv", "/srv/../etc"):
        with pytest.raises(SpecError):
            parse_backup_root(bad)
    for refused in ("/", "/proc/x", "nas1:srv"):
        with pytest.raises(ValidationError):
            validate_backup_root(refused)
    validate_backup_root("nas1:/srv/backups")


def test_a_spec_refuses_a_backup_store_of_another_kind() -> None:
    with pytest.raises(SpecError, match="backup store"):
        dataclasses.replace(factories.site_spec(), backup_store="/srv/backups")  # type: ignore[arg-type]
