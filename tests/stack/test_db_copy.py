"""The neutralized copy's tasks, rendered (tests/real runs them on real Odoo 19)."""

import pytest

from clusters.stack.db_copy import (
    copy_name,
    render_copy_task,
    render_drop_task,
    render_neutralize_task,
)
from clusters.stack.spec import SpecError
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


@pytest.mark.parametrize("target", ["acme", "postgres", "template1", "x; DROP DATABASE acme", "", "a" * 64])
def test_production_or_a_strange_name_is_never_a_target(target: str) -> None:
    spec = site_spec()
    for render in (render_copy_task, render_neutralize_task, render_drop_task):
        with pytest.raises(SpecError):
            render(spec, target)
