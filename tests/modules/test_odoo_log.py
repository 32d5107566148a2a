"""The update verdict on real stand-in runs (Odoo's documented exit codes and log markers): exit 0
is not success when modules vanished."""

import pytest

from clusters.sites.odoo_log import judge
from tests.lab import standin_helpers as h


@pytest.fixture
def db_with(tmp_path):  # type: ignore[no-untyped-def]
    """A database with shop_base <- shop_sale installed (and their manifests on disk)."""
    addons = tmp_path / "addons"
    h.write_addon(addons, "shop_base", depends=["sale"])
    h.write_addon(addons, "shop_sale", depends=["shop_base"])
    db = h.new_db_name()
    done = h.run(
        [*h.db_args(db), "--addons-path", str(addons), "-i", "shop_sale", "--stop-after-init", "--no-http"]
    )
    assert done.returncode == 0, done.stderr
    yield db, addons
    h.drop_database(db)


def lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return (result.stdout + result.stderr).splitlines()


def test_success(db_with):  # type: ignore[no-untyped-def]
    db, addons = db_with
    r = h.run(
        [*h.db_args(db), "--addons-path", str(addons), "-u", "shop_base", "--stop-after-init", "--no-http"]
    )
    verdict = judge(r.returncode, lines(r))
    assert verdict.ok and verdict.loaded and verdict.reasons == []


def test_failing_module_exit_255(db_with):  # type: ignore[no-untyped-def]
    db, addons = db_with
    r = h.run(
        [*h.db_args(db), "--addons-path", str(addons), "-u", "shop_base", "--stop-after-init", "--no-http"],
        ODOO_STANDIN_FAIL="shop_base",
    )
    verdict = judge(r.returncode, lines(r))
    assert r.returncode == 255 and not verdict.ok
    assert verdict.reasons[0] == "odoo exited with status 255"
    assert any("Failed to initialize database" in line for line in verdict.error_lines)


def test_unmet_dependency_exit_0_names_what_vanished(db_with):  # type: ignore[no-untyped-def]
    db, addons = db_with
    h.write_addon(addons, "shop_base", depends=["sale", "sale_subscription"])  # a dependency not installed
    # Known to the database (e.g. an Enterprise module listed once) but with no code here: Odoo takes
    # the skip path and exits 0; with no row at all it raises and exits 255 instead.
    h.execute(db, "INSERT INTO ir_module_module (name, state) VALUES ('sale_subscription', 'uninstalled')")
    r = h.run(
        [*h.db_args(db), "--addons-path", str(addons), "-u", "shop_base", "--stop-after-init", "--no-http"]
    )
    verdict = judge(r.returncode, lines(r))
    assert r.returncode == 0 and not verdict.ok
    assert verdict.unmet["shop_base"] == ["sale_subscription"]
    assert set(verdict.vanished) >= {"shop_base", "shop_sale"}


def test_judge_on_odoo_19_wording_and_invalid_names():
    log = [
        "2026-11-29 10:00:00,000 7 INFO db odoo.modules.module_graph: "
        "module x: some depends are not loaded, skipped",
        "2026-11-29 10:00:00,000 7 WARNING db odoo.modules.module: invalid module names, ignored: typo",
    ]
    verdict = judge(0, log)
    assert not verdict.ok and verdict.vanished == ["x"] and "typo" in verdict.reasons[-1]
    assert not judge(None, []).ok


def test_every_wording_of_a_skip_in_odoo_19_names_the_module() -> None:
    # odoo/modules/module_graph.py of 19.0: the three ways a module is left out of the graph.
    graph = "2026-12-06 01:13:45,294 1 {} db odoo.modules.module_graph: module {}, skipped"
    lines = [
        graph.format("INFO", "a: some depends are not loaded"),
        graph.format("INFO", "b: its direct/indirect dependency is skipped"),
        graph.format("WARNING", "c: in a dependency loop"),
        "2026-12-06 01:13:46,031 1 INFO db odoo.registry: Registry loaded in 0.768s",
    ]
    verdict = judge(0, lines, mode="boot")
    assert verdict.vanished == ["a", "b", "c"] and not verdict.ok
