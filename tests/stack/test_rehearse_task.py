"""The rehearsal's `-u` (issue 18), rendered: the update's own one-off, on the copy and never on
production's database, with the digest to rehearse, and nothing of production's filestore but its copy."""

import pytest

from clusters.stack.db_copy import copy_name, render_rehearse_task
from clusters.stack.host_access import host_reach
from clusters.stack.one_off import render_update_task
from clusters.stack.spec import BindFilestore, SpecError
from tests.factories import site_spec

TARGET = "sha256:" + "b" * 64


def test_the_rehearsal_runs_the_updates_options_on_the_copy_with_the_target_digest() -> None:
    spec = site_spec(image_digest=TARGET)
    copy = copy_name(spec, "rh12")
    task = render_rehearse_task(spec, copy, ["shop_base", "shop_sale"], "j12")
    update = render_update_task(spec, ["shop_base", "shop_sale"], "j12")
    assert task.args[:5] == ["odoo", "-d", "acme_rh12", "-u", "shop_base,shop_sale"]
    assert task.args[3:] == update.args[3:]  # the same options as the real update, past `-d`
    assert "acme" not in task.args  # production's database is never named
    assert task.image.endswith("@" + TARGET)
    assert task.name == "acme_rehearse_j12" and task.role == "rehearse-task"
    assert task.labels["panel.copy"] == copy and task.labels["traefik.enable"] == "false"


def test_no_production_filestore_but_the_rehearsal_volume_on_the_database_node() -> None:
    spec = site_spec()
    task = render_rehearse_task(spec, copy_name(spec, "rh1"), ["sale"])
    [mount] = task.mounts  # where the copy's filestore was copied, never production's
    assert (mount["Type"], mount["Source"], mount["Target"]) == ("volume", "acme_rehearsal", spec.data_dir)
    assert task.constraints == [f"node.hostname=={spec.db_node}"]  # a local volume: that node's
    assert f"--data-dir={spec.data_dir}" in task.args
    update = render_update_task(spec, ["sale"])
    assert all(m["Source"] != "acme_rehearsal" for m in update.mounts)  # the real update keeps the filestore


def test_the_session_store_is_the_copy_not_production() -> None:
    spec = site_spec(session_store="session_db")
    task = render_rehearse_task(spec, copy_name(spec, "rh1"), ["sale"])
    assert task.env["SESSION_DB_URI"] == "acme_rh1"  # a name: Odoo's own credentials reach it
    assert task.env["HOST"] == spec.service_name("db")


@pytest.mark.parametrize("target", ["acme", "postgres", "template1", "other_rh1", "acme_x;drop", ""])
def test_production_or_a_strange_name_is_never_rehearsed_on(target: str) -> None:
    with pytest.raises(SpecError):
        render_rehearse_task(site_spec(), target, ["sale"])


@pytest.mark.parametrize("modules", [["all"], ["base"], ["sale;rm -rf /"], []])
def test_the_updates_module_rules_hold(modules: list[str]) -> None:
    with pytest.raises(SpecError):
        render_rehearse_task(site_spec(), "acme_rh1", modules)


def test_a_spec_without_a_digest_is_refused() -> None:
    with pytest.raises(SpecError, match="digest"):
        render_rehearse_task(site_spec(image_digest=None), "acme_rh1", ["sale"])


@pytest.mark.parametrize(
    ("mode", "filestore", "root"),
    [
        ("production", None, None),
        ("lab", BindFilestore(path="/srv/lab-filestore/acme"), "/srv/lab-filestore"),
    ],
)
def test_the_host_rule_accepts_it(mode: str, filestore: BindFilestore | None, root: str | None) -> None:
    extra = {"filestore": filestore, "lab_filestore_root": root} if filestore else {}
    spec = site_spec(cluster_mode=mode, **extra)
    task = render_rehearse_task(spec, copy_name(spec, "rh7"), ["sale"], "j7")  # rendering judges it too
    assert host_reach(task, spec.cluster_mode, spec.lab_filestore_root) == []
