"""Benchmark the approval gate's closure against the manifestoo CLI, on two trees, in one run.

    python bench/gate.py [--quick] [--write]

Trees: the real oca-17.0 tree (400 addons, shared/data) and a generated one of 20,000 addons (seeded, so
every run builds the same tree) with deep chains (a 300-deep chain, chains of repository bases, 100-long
chains inside some repositories), wide addons (30-80 depends), cycles, unknown dependencies and depends on
uninstallable addons, spread over four addons paths.

What is timed, each as whole processes, median of N runs (wall clock):
- panel: ONE `python manage.py gate closure --addons-path ... --series 17.0 --json` over every addon:
  per addon, its direct depends, transitive closure and missing names.
- manifestoo (manifestoo_s): the CLI over the whole tree, the two invocations that list transitive depends
  and missing addons: `manifestoo ... --select-found list-depends --transitive --ignore-missing` and
  `manifestoo ... --select-found list-missing`, summed. They print the UNION over all addons, not
  per-addon answers; they are the only way the CLI covers a whole tree in a fixed number of processes.
  The union they print is checked against the union of the panel's answers.
- Per-addon answers from the CLI need 3 runs per addon (as ground_truth.json was made), each re-reading
  the whole tree: timed on a sample of addons and extrapolated (printed, labelled "extrapolated").
- Per-addon answers for ALL addons come from manifestoo's own code (the functions behind `list-depends
  [--transitive]` and `list-missing`) called per addon in one child process per tree, also timed as a
  whole process; the sample shows they equal the CLI's. `agree=` counts addons whose panel answer
  equals that manifestoo answer exactly (depends, closure, missing less core addons), both trees.

The last line is `RESULT gate panel_s=... manifestoo_s=... ratio=... ratio_small=... agree=N/M`, ratios
being panel/manifestoo on the 20,000-addon tree and on the oca tree. Exit 0 whether or not targets are met;
exit 1 without a RESULT line when it cannot measure (no oca-17.0 tree, manifestoo not installed for this
interpreter, a run that fails). Every process is started with the interpreter that runs the bench
(`sys.executable manage.py`, `sys.executable -m manifestoo`). bench/RESULTS.md is only written with --write
(the section is then what this run printed).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import printed_section, transcript, write_section  # noqa: E402
from bench._run import ROOT, CannotMeasure, python_module, run  # noqa: E402
from bench.gate_tree import SEED, generate_tree  # noqa: E402

OCA = Path(os.environ.get("GATE_OCA_TREE", ROOT.parent / "shared" / "data" / "oca-17.0"))
PYTHON = sys.executable
SERIES = "17.0"


# ---------------------------------------------------------------------------------------------- runs
def timed(cmd: list[str], runs: int) -> tuple[float, str]:
    """Median wall time of `runs` runs of cmd, and the stdout of the last one (which must succeed)."""
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise CannotMeasure(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
        out = proc.stdout
    return statistics.median(times), out


def manifestoo_cmd(paths: list[Path], *args: str) -> list[str]:
    addons_path = ",".join(map(str, paths))
    return [
        *python_module("manifestoo"),
        "--no-addons-path-from-import-odoo",
        "--addons-path",
        addons_path,
        "--odoo-series",
        SERIES,
        *args,
    ]


def panel_closure(paths: list[Path], runs: int) -> tuple[float, dict[str, dict[str, list[str]]]]:
    cmd = [
        PYTHON,
        "manage.py",
        "gate",
        "closure",
        "--addons-path",
        ",".join(map(str, paths)),
        "--series",
        SERIES,
        "--json",
    ]
    seconds, out = timed(cmd, runs)
    return seconds, json.loads(out)["addons"]


def manifestoo_whole_tree(paths: list[Path], runs: int) -> tuple[float, set[str], set[str]]:
    """Both whole-tree invocations; returns summed median time, and the unions they print."""
    t1, depends_out = timed(
        manifestoo_cmd(
            paths, "--select-found", "list-depends", "--transitive", "--ignore-missing", "--separator", ","
        ),
        runs,
    )
    t2, missing_out = timed(manifestoo_cmd(paths, "--select-found", "list-missing", "--separator", ","), runs)
    return t1 + t2, _csv(depends_out), _csv(missing_out)


def manifestoo_cli_per_addon(
    paths: list[Path], names: list[str]
) -> tuple[float, dict[str, dict[str, list[str]]]]:
    """The exact per-addon commands of ground_truth.json, for a sample; returns seconds per addon."""
    answers: dict[str, dict[str, list[str]]] = {}
    start = time.perf_counter()
    for name in names:
        run = [
            subprocess.run(
                manifestoo_cmd(paths, "--select", name, *args, "--separator", ","),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for args in (
                ("list-depends", "--ignore-missing"),
                ("list-depends", "--transitive", "--ignore-missing"),
                ("list-missing",),
            )
        ]
        answers[name] = {
            "depends": sorted(_csv(run[0])),
            "closure": sorted(_csv(run[1])),
            "missing": sorted(_csv(run[2])),
        }
    return (time.perf_counter() - start) / max(len(names), 1), answers


def manifestoo_library_per_addon(paths: list[Path]) -> tuple[float, dict[str, dict[str, list[str]]]]:
    """Per-addon answers for every addon from manifestoo's own functions, in one child process, timed."""
    cmd = [PYTHON, __file__, "--manifestoo-per-addon", ",".join(map(str, paths))]
    seconds, out = timed(cmd, 1)
    return seconds, json.loads(out)


def _manifestoo_per_addon_child(addons_path: str) -> None:
    """The child: the functions behind `list-depends [--transitive]` and `list-missing`, once per addon."""
    from manifestoo.addons_selection import AddonsSelection
    from manifestoo.commands.list_depends import list_depends_command
    from manifestoo_core.addons_set import AddonsSet

    addons_set = AddonsSet()
    addons_set.add_from_addons_dirs([Path(p) for p in addons_path.split(",")])
    answers: dict[str, dict[str, list[str]]] = {}
    for name in sorted(addons_set):
        selection = AddonsSelection({name})
        direct, _ = list_depends_command(selection, addons_set, transitive=False)
        closure, _ = list_depends_command(selection, addons_set, transitive=True)
        _, missing = list_depends_command(selection, addons_set, transitive=True, include_selected=True)
        answers[name] = {"depends": list(direct), "closure": list(closure), "missing": sorted(missing)}
    json.dump(answers, sys.stdout)


def _csv(text: str) -> set[str]:
    return {item for item in text.strip().replace("\n", ",").split(",") if item}


# ------------------------------------------------------------------------------------------ compare
def compare(
    panel: dict[str, dict[str, list[str]]], peer: dict[str, dict[str, list[str]]], core: frozenset[str]
) -> tuple[int, int, list[str]]:
    """Exact per-addon agreement; manifestoo's list-missing also lists core addons, which are removed."""
    agree, diffs = 0, []
    for name in sorted(set(panel) | set(peer)):
        mine, theirs = panel.get(name), peer.get(name)
        if mine is not None and theirs is not None:
            expected = dict(theirs, missing=sorted(set(theirs["missing"]) - core))
            if mine == expected:
                agree += 1
                continue
        diffs.append(name)
    return agree, len(set(panel) | set(peer)), diffs


def check_unions(
    panel: dict[str, dict[str, list[str]]],
    depends_union: set[str],
    missing_union: set[str],
    core: frozenset[str],
) -> bool:
    """The whole-tree CLI output equals the union of the panel's per-addon answers."""
    closure_union = set().union(*(set(a["closure"]) for a in panel.values())) - set(panel)
    mine_missing = set().union(*(set(a["missing"]) for a in panel.values()))
    return closure_union == depends_union and mine_missing == missing_union - core


# ---------------------------------------------------------------------------------------------- main
def bench_tree(
    label: str, paths: list[Path], runs: int, sample: int, core: frozenset[str]
) -> dict[str, float]:
    print(f"\n== {label}: {', '.join(map(str, paths))}")
    panel_s, panel = panel_closure(paths, runs)
    print(
        f"panel    one `manage.py gate closure --json` process, every addon : {panel_s:8.3f} s "
        f"(median of {runs}; {len(panel)} addons, {sum(len(a['closure']) for a in panel.values()):,} "
        "closure entries)"
    )
    mo_s, depends_union, missing_union = manifestoo_whole_tree(paths, runs)
    print(
        f"manifestoo whole tree, 2 CLI runs (list-depends --transitive + list-missing, --select-found): "
        f"{mo_s:8.3f} s (median of {runs} each, summed; union answers only)"
    )
    print(f"  whole-tree unions equal the panel's: {check_unions(panel, depends_union, missing_union, core)}")
    lib_s, peer = manifestoo_library_per_addon(paths)
    print(
        f"manifestoo per-addon answers via its own functions, one process  : {lib_s:8.3f} s "
        f"(panel / this = {panel_s / lib_s:.3f})"
    )
    rng = random.Random(SEED)
    names = rng.sample(sorted(peer), min(sample, len(peer)))
    per_addon_s, cli = manifestoo_cli_per_addon(paths, names)
    cli_matches_lib = all(cli[n] == peer[n] for n in names)
    print(
        f"manifestoo CLI per addon (3 runs each) on a sample of {len(names)}: {per_addon_s:.3f} s/addon; "
        f"extrapolated to {len(peer)} addons: {per_addon_s * len(peer):,.0f} s; "
        f"CLI answers == library answers on the sample: {cli_matches_lib}"
    )
    agree, total, diffs = compare(panel, peer, core)
    print(
        f"agreement with manifestoo, addon by addon: {agree}/{total}"
        + (f"; differ: {diffs[:10]}" if diffs else "")
    )
    return {
        "panel_s": panel_s,
        "manifestoo_s": mo_s,
        "agree": agree,
        "total": total,
        "cli_ok": float(cli_matches_lib),
    }


def main() -> str:
    quick = "--quick" in sys.argv
    kept = transcript()
    if not (OCA / "addons").is_dir() or not (OCA / "ground_truth.json").is_file():
        raise CannotMeasure(f"the oca-17.0 tree is not at {OCA} (set GATE_OCA_TREE)")
    python_module("manifestoo")  # the peer, for this interpreter
    from clusters.approvals.gate.addons import core_addons

    core = core_addons(SERIES)
    # Per-addon CLI runs re-read the whole tree each time: ~15 s each on the big tree, hence its small sample.
    runs, sample_small, sample_big = (1, 2, 1) if quick else (3, 20, 3)
    small = bench_tree("oca-17.0 (400 real addons)", [OCA / "addons"], runs, sample_small, core)
    gt = json.loads((OCA / "ground_truth.json").read_text())["addons"]
    print(f"  (ground_truth.json has {len(gt)} addons, made by the per-addon CLI)")
    tmp = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    try:
        start = time.perf_counter()
        paths = generate_tree(tmp)
        print(f"\ngenerated 20,000-addon tree (seed {SEED}) in {time.perf_counter() - start:.1f} s")
        big = bench_tree("generated (20,000 addons)", paths, runs, sample_big, core)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = big["panel_s"] / big["manifestoo_s"]
    ratio_small = small["panel_s"] / small["manifestoo_s"]
    agree = int(small["agree"] + big["agree"])
    total = int(small["total"] + big["total"])
    print(
        f"\ntargets: identical answers {agree == total}; 20k ratio {ratio:.3f} <= 0.5 {ratio <= 0.5}; "
        f"oca ratio {ratio_small:.3f} <= 1 {ratio_small <= 1}"
    )
    result = (
        f"RESULT gate panel_s={big['panel_s']:.3f} manifestoo_s={big['manifestoo_s']:.3f} "
        f"ratio={ratio:.3f} ratio_small={ratio_small:.3f} agree={agree}/{total}"
    )
    if "--write" in sys.argv:
        write_section("gate", printed_section("gate", kept, result))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--manifestoo-per-addon":
        _manifestoo_per_addon_child(sys.argv[2])  # the child process: prints JSON only
    else:
        run(main)
