"""The neutralized copy's tasks, rendered (tests/real runs them on real Odoo 19)."""

import pytest

from clusters.stack.db_copy import (
    FILESTORE_COPY_MAX_BYTES,
    copy_name,
    render_copy_task,
    render_drop_task,
    render_filestore_copy_task,
    render_filestore_drop_task,
    render_neutralize_task,
)
from clusters.stack.host_access import host_reach
from clusters.stack.service_parts import filestore_mount
from clusters.stack.spec import BindFilestore, SpecError
from tests.factories import site_spec


def test_the_copy_takes_names_as_arguments_and_the_database_image() -> None:
    spec = site_spec(addons_path=("/mnt/extra-addons",))
    task = render_copy_task(spec, "acme_rehearsal")
    assert task.image == spec.db_image_ref
    assert task.command is not None and task.command[-2:] == ["acme", "acme_rehearsal"]
    assert "acme" not in task.command[2]  # the script never carries a name
    assert task.env["PGHOST"] == spec.service_name("db")


def test_neutralize_runs_the_image_with_the_sites_addons_path_on_a_copy_only() -> None:
    spec = site_spec(addons_path=("/mnt/extra-addons",))
    task = render_neutralize_task(spec, copy_name(spec, "rehearsal"))
    assert task.args[:4] == ["odoo", "neutralize", "-d", "acme_rehearsal"]
    assert "--addons-path=/mnt/extra-addons" in task.args
    assert task.labels["traefik.enable"] == "false"


@pytest.mark.parametrize("filestore", [None, BindFilestore(path="/srv/lab-filestore/acme")])
def test_neutralize_never_mounts_the_filestore(filestore: BindFilestore | None) -> None:
    """It needs the database alone: a scratch data dir in memory, nothing of any volume or host folder."""
    extra = {"filestore": filestore, "cluster_mode": "lab"} if filestore else {}
    spec = site_spec(**extra)
    task = render_neutralize_task(spec, copy_name(spec, "rh3"), "j3")
    [scratch] = task.mounts
    assert (scratch["Type"], scratch["Target"], scratch["Source"]) == ("tmpfs", spec.data_dir, None)
    production = filestore_mount(spec)["Source"]
    assert all(m["Source"] != production for m in task.mounts)


@pytest.mark.parametrize(
    ("mode", "filestore", "root"),
    [
        ("production", None, None),
        ("lab", BindFilestore(path="/srv/lab-filestore/acme"), "/srv/lab-filestore"),
    ],
)
def test_the_filestore_copy_reads_production_read_only_on_the_database_node(
    mode: str, filestore: BindFilestore | None, root: str | None
) -> None:
    extra = {"filestore": filestore, "lab_filestore_root": root} if filestore else {}
    spec = site_spec(cluster_mode=mode, **extra)
    task = render_filestore_copy_task(spec, copy_name(spec, "rh3"), "j3")
    source, copy = task.mounts
    production = filestore_mount(spec)
    assert (source["Source"], source["Type"]) == (production["Source"], production["Type"])
    assert source["ReadOnly"] is True and source["Target"] == "/source"
    assert (copy["Source"], copy["Target"], copy["ReadOnly"]) == ("acme_rehearsal", "/rehearsal", False)
    assert task.command is not None and task.command[3:] == [
        "acme",
        "acme_rh3",
        str(FILESTORE_COPY_MAX_BYTES),
    ]
    assert "acme" not in task.command[2]  # names travel as arguments
    assert task.constraints == ["node.hostname==db1"] and task.networks == []
    assert host_reach(task, spec.cluster_mode, spec.lab_filestore_root) == []
    removal = render_filestore_drop_task(spec, copy_name(spec, "rh3"), "j3")
    assert [m["Source"] for m in removal.mounts] == ["acme_rehearsal"]  # production is not even mounted
    assert removal.command is not None and removal.command[3:] == ["acme_rh3"]


@pytest.mark.parametrize("target", ["acme", "postgres", "template1", "x; DROP DATABASE acme", "", "a" * 64])
def test_production_or_a_strange_name_is_never_a_target(target: str) -> None:
    spec = site_spec()
    for render in (
        render_copy_task,
        render_neutralize_task,
        render_drop_task,
        render_filestore_copy_task,
        render_filestore_drop_task,
    ):
        with pytest.raises(SpecError):
            render(spec, target)
