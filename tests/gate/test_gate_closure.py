"""`gate closure` equals manifestoo's answers: on the real oca-17.0 tree, and on random graphs with cycles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from clusters.approvals.gate.addons import core_addons, discover_addons
from clusters.approvals.gate.closure import compute_closures, dependents, reverse_depends
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.report import closure_report
from tests.gate.conftest import WriteTree


def test_oca_tree_matches_ground_truth_for_every_addon(
    oca_addons: Path, ground_truth: dict[str, dict[str, list[str]]]
) -> None:
    report = closure_report(str(oca_addons), "17.0")
    assert report["series"] == "17.0"
    assert sorted(report["addons"]) == sorted(ground_truth)
    core = core_addons("17.0")
    for name, truth in ground_truth.items():
        mine = report["addons"][name]
        assert mine["depends"] == truth["depends_direct"], name
        assert mine["closure"] == truth["closure"], name  # core names included, as leaves
        assert mine["missing"] == truth["missing"], name
        assert sorted(set(mine["closure"]) & core) == truth["closure_core"], name


def test_select_limits_the_answer(oca_addons: Path, ground_truth: dict[str, dict[str, list[str]]]) -> None:
    report = closure_report(str(oca_addons), "17.0", ["account_asset_management", "report_xlsx"])
    assert sorted(report["addons"]) == ["account_asset_management", "report_xlsx"]
    assert report["addons"]["report_xlsx"]["closure"] == ground_truth["report_xlsx"]["closure"]


def test_core_addons_are_leaves_and_missing_excludes_them(write_tree: WriteTree) -> None:
    path = write_tree({"a": ["sale", "b"], "b": ["ghost"]})
    addons = closure_report(str(path), "17.0")["addons"]
    assert addons["a"] == {"depends": ["b", "sale"], "closure": ["b", "ghost", "sale"], "missing": ["ghost"]}


def test_cycles_exclude_the_addon_itself(write_tree: WriteTree) -> None:
    path = write_tree({"a": ["b"], "b": ["c"], "c": ["a", "x"], "s": ["s"]})
    addons = closure_report(str(path), "17.0")["addons"]
    assert addons["a"]["closure"] == ["b", "c", "x"]
    assert addons["c"]["closure"] == ["a", "b", "x"]
    assert addons["a"]["missing"] == ["x"]
    assert addons["s"]["closure"] == []


def test_uninstallable_addons_count_as_missing(write_tree: WriteTree) -> None:
    path = write_tree({"a": ["b"], "b": ["base"]}, overrides={"b": {"installable": False}})
    addons = closure_report(str(path), "17.0")["addons"]
    assert list(addons) == ["a"]
    assert addons["a"] == {"depends": ["b"], "closure": ["b"], "missing": ["b"]}


def test_first_addons_path_wins_like_odoo(write_tree: WriteTree) -> None:
    first = write_tree({"a": ["x1"]}, folder="first")
    second = write_tree({"a": ["x2"], "b": ["a"]}, folder="second")
    addons = closure_report(f"{first},{second}", "17.0")["addons"]
    assert addons["a"]["depends"] == ["x1"]
    assert addons["b"]["closure"] == ["a", "x1"]


def test_a_chain_of_fifty_thousand_needs_no_recursion() -> None:
    n = 50_000
    graph = {f"m{i}": [f"m{i + 1}"] for i in range(n)}
    graph[f"m{n}"] = ["base", "ghost"]
    result = compute_closures(graph, {"base"}, ["m0", "m49999"])  # a few roots: one walk each
    assert len(result["m0"].closure) == n + 2
    assert result["m49999"].closure == {"m50000", "base", "ghost"}
    assert result["m0"].missing == {"ghost"}


def test_whole_graph_pass_needs_no_recursion_either() -> None:
    n = 2_000  # every closure of the chain is materialised: n * n / 2 names
    graph = {f"m{i}": [f"m{i + 1}"] for i in range(n)}
    graph[f"m{n}"] = ["m0", "ghost"]  # and the whole chain is one cycle
    result = compute_closures(graph, {"base"})
    assert len(result) == n + 1
    assert all(len(c.closure) == n + 1 and c.missing == {"ghost"} for c in result.values())
    assert "m0" not in result["m0"].closure


def test_a_quadratic_closure_is_refused_not_allowed_to_exhaust_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("clusters.approvals.gate.closure.MAX_TOTAL_NAMES", 100_000)
    graph = {f"m{i}": [f"m{i + 1}"] for i in range(1_000)}  # ~500,000 names in all
    with pytest.raises(GateError, match="closures add up to more than 100,000 names"):
        compute_closures(graph, set())


def test_walk_and_component_pass_agree(oca_addons: Path) -> None:
    index = discover_addons(str(oca_addons))
    graph = index.depends_map()
    core = core_addons("17.0")
    everything = compute_closures(graph, core)
    for name in list(graph)[:60]:
        assert compute_closures(graph, core, [name])[name] == everything[name], name


def test_random_graphs_match_manifestoo(tmp_path: Path) -> None:
    """Against manifestoo's own command functions, on seeded random graphs with cycles and unknown names."""
    from manifestoo.addons_selection import AddonsSelection
    from manifestoo.commands.list_depends import list_depends_command
    from manifestoo_core.addons_set import AddonsSet

    core = core_addons("17.0")
    rng = random.Random(7)
    for round_ in range(20):
        names = [f"a{i}" for i in range(40)]
        graph = {
            n: sorted(set(rng.sample(names + ["sale", "web", "ghost1", "ghost2"], rng.randint(0, 4))))
            for n in names
        }
        base = tmp_path / f"round{round_}"
        for name, deps in graph.items():
            (base / name).mkdir(parents=True)
            (base / name / "__init__.py").write_text("")
            (base / name / "__manifest__.py").write_text(repr({"name": name, "depends": deps}))
        mine = closure_report(str(base), "17.0")["addons"]
        addons_set = AddonsSet()
        addons_set.add_from_addons_dir(base)
        for name in names:
            selection = AddonsSelection({name})
            closure, _ = list_depends_command(selection, addons_set, transitive=True)
            _, missing = list_depends_command(selection, addons_set, transitive=True, include_selected=True)
            assert mine[name]["closure"] == list(closure), (round_, name)
            assert mine[name]["missing"] == sorted(set(missing) - core), (round_, name)


def test_dependents_walk_up_transitively() -> None:
    reverse = reverse_depends({"a": ["b"], "b": ["c"], "c": [], "d": ["c"], "e": ["a"]})
    assert dependents(reverse, ["c"]) == {"a", "b", "d", "e"}
    assert dependents(reverse, ["a"]) == {"e"}


@pytest.mark.parametrize(
    "paths,series,select,message",
    [
        ("/nonexistent/addons", "17.0", None, "is not a directory"),
        ("", "17.0", None, "no addons path"),
        ("{tree}", "99.0", None, "unknown Odoo series '99.0'"),
        ("{tree}", "17.0", ["nope"], "addon nope is not in the addons paths"),
        ("{tree}", "17.0", ["../x"], "is not an addon name"),
    ],
)
def test_bad_input_is_a_gate_error(
    write_tree: WriteTree, paths: str, series: str, select: list[str] | None, message: str
) -> None:
    tree = write_tree({"a": []})
    with pytest.raises(GateError, match=message.replace(".", r"\.").replace("(", r"\(")):
        closure_report(paths.format(tree=tree), series, select)


def test_every_bad_manifest_is_listed(write_tree: WriteTree) -> None:
    tree = write_tree({"good": []})
    for name, text in {"bad1": "{'depends': foo()}", "bad2": b"\xff\xfe", "bad-3": "{}"}.items():
        (tree / name).mkdir()
        data = text.encode() if isinstance(text, str) else text
        (tree / name / "__manifest__.py").write_bytes(data)
    with pytest.raises(GateError) as info:
        discover_addons(str(tree))
    assert [Path(e.path).parent.name for e in info.value.errors] == ["bad-3", "bad1", "bad2"]
    assert "folder name 'bad-3' is not a valid addon name" in str(info.value)
    assert "3 manifest(s) refused" in str(info.value)
