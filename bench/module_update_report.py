"""The figures of the module_update benchmark: the runs measured, their medians, what it prints, its
RESULT line and its section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field
from typing import Any

from bench._report import command_line, met, say, stamp

WAYS = ("shell", "panel")
KEYS = ("window", "command", "odoo", "to_task", "task_start", "to_healthy")


@dataclass
class Runs:
    """Per way: each run's window and its parts (rows) and end-to-end seconds (totals), the attempts
    made; the panel's step seconds per run; the failed attempts; the load along the way."""

    rows: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {way: [] for way in WAYS})
    edge: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {way: [] for way in WAYS})
    totals: dict[str, list[float]] = field(default_factory=lambda: {way: [] for way in WAYS})
    attempts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WAYS, 0))
    steps: list[dict[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)


def median(values: list[float]) -> float:
    """The median of the values observed: a part the 100 ms observer did not see (NaN: e.g. a
    one-off that ended and was removed between two polls) is left out, not sorted in at random."""
    seen = [v for v in values if v == v]
    return statistics.median(seen) if seen else float("nan")


def summary(runs: Runs) -> dict[str, Any]:
    """Medians per way: the window and its parts, overheads, end-to-end."""
    rows = runs.rows
    med = {way: {k: median([r[k] for r in rows[way]]) for k in KEYS} for way in rows}
    for way in rows:
        med[way]["edge_window"] = median([r["edge_window"] for r in runs.edge[way]])
        med[way]["bad"] = sum(r["bad"] for r in runs.edge[way])
        med[way]["edge_lead"] = median([r["lead"] for r in runs.edge[way]])
        med[way]["edge_lag"] = median([r["lag"] for r in runs.edge[way]])
        med[way]["overhead"] = median([r["window"] - r["command"] for r in rows[way]])
        med[way]["overhead_odoo"] = median([r["window"] - r["odoo"] for r in rows[way]])
        med[way]["total"] = median(runs.totals[way])
    return med


def step_medians(steps: list[dict[str, float]]) -> str:
    """The panel's steps in their order, each with its median seconds."""
    names = list(dict.fromkeys(name for run_steps in steps for name in run_steps))
    return ", ".join(f"{n} {median([s[n] for s in steps if n in s]):.2f}" for n in names)


def report(runs: Runs, *, real: bool = False) -> str:
    """Per run: the window and its parts (stop -> one-off task, task -> odoo running, odoo itself,
    one-off ended -> first replica healthy); overhead = window - command (the one-off service from
    its task to its exit); overhead_odoo = window - the odoo process alone. Medians below."""
    rows, totals, attempts = runs.rows, runs.totals, runs.attempts
    say("")
    say("way   run  " + "  ".join(f"{k}_s" for k in KEYS) + "  overhead_s  overhead_odoo_s  total_s")
    for way in WAYS:
        for i, (row, total) in enumerate(zip(rows[way], totals[way], strict=True), 1):
            parts = "  ".join(f"{row[k]:{len(k) + 2}.2f}" for k in KEYS)
            say(
                f"{way:<5} {i:>3}  {parts}  {row['window'] - row['command']:10.2f}  "
                f"{row['window'] - row['odoo']:15.2f}  {total:7.2f}"
            )
    med = summary(runs)
    say("")
    for way in WAYS:
        m = med[way]
        say(
            f"{way}: median window {m['window']:.2f} s; command {m['command']:.2f} s "
            f"(odoo -u {m['odoo']:.2f} s); overhead {m['overhead']:.2f} s "
            f"(beyond odoo -u alone: {m['overhead_odoo']:.2f} s); median end to end {m['total']:.2f} s; "
            f"{attempts[way]} attempts for {len(rows[way])} runs"
        )
    say("panel steps, median s: " + step_medians(runs.steps))
    ratio = med["panel"]["window"] / med["shell"]["window"]
    say(
        f"targets: panel window <= 1.1 x shell's ({ratio:.2f}x), overhead < 5 s "
        f"({med['panel']['overhead']:.2f} s)"
    )
    edge = {way: ", ".join(f"{r['edge_window']:.2f}" for r in runs.edge[way]) for way in WAYS}
    say(
        f"through the edge: panel {med['panel']['edge_window']:.2f} s ({edge['panel']}), shell "
        f"{med['shell']['edge_window']:.2f} s ({edge['shell']}); bad responses panel "
        f"{med['panel']['bad']:.0f}, shell {med['shell']['bad']:.0f}; targets: no bad response, panel <= "
        f"shell and <= odoo -u + 3 s ({med['panel']['odoo'] + 3:.2f} s)"
    )
    say(_edge_parts(med))
    return (
        f"RESULT module_update panel_downtime_s={med['panel']['window']:.2f} "
        f"shell_downtime_s={med['shell']['window']:.2f} ratio={ratio:.2f} "
        f"overhead_s={med['panel']['overhead']:.2f} panel_total_s={med['panel']['total']:.2f} "
        f"shell_total_s={med['shell']['total']:.2f} "
        f"attempts=panel:{attempts['panel']},shell:{attempts['shell']}"
        + (f" odoo_u_s={med['panel']['odoo']:.2f}" if real else "")
        + f" edge_downtime_s={med['panel']['edge_window']:.2f} "
        f"shell_edge_downtime_s={med['shell']['edge_window']:.2f} bad_responses={med['panel']['bad']:.0f}"
    )


def _edge_parts(med: dict[str, Any]) -> str:
    return "where the edge's downtime lies (median s): " + "; ".join(
        f"{way} {med[way]['edge_lead']:.2f} before the last replica stopped, {med[way]['window']:.2f} "
        f"without a replica, {med[way]['edge_lag']:.2f} after one was healthy again"
        for way in WAYS
    )


def _table(runs: Runs, med: dict[str, Any]) -> list[str]:
    table = [
        "| way | window s | command s (odoo -u alone) | stop -> one-off | one-off ended -> replica healthy "
        "| overhead s | end to end s | attempts |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for way in WAYS:
        m = med[way]
        table.append(
            f"| {way} | {m['window']:.2f} | {m['command']:.2f} ({m['odoo']:.2f}) | {m['to_task']:.2f} "
            f"| {m['to_healthy']:.2f} | {m['overhead']:.2f} | {m['total']:.2f} "
            f"| {runs.attempts[way]} for {len(runs.rows[way])} runs |"
        )
    return table


def _what(args: argparse.Namespace) -> str:
    timing = {
        "lab": "",
        "shipped": ", with the shipped healthcheck and update defaults as rendered for the lab's engine",
        "shipped-30s": ", with the shipped defaults and the first healthcheck 30 s after a start",
    }[args.timing]
    if args.real:
        return (
            "on real Odoo 19 (the lab's odoo19-real image with the user's addon lab_note installed)" + timing
        )
    return "on the Odoo stand-in with the demo modules installed" + timing


def section(args: argparse.Namespace, runs: Runs, result: str) -> str:
    rows, totals = runs.rows, runs.totals
    med = summary(runs)
    ratio = med["panel"]["window"] / med["shell"]["window"]
    edge_target = min(med["shell"]["edge_window"], med["panel"]["odoo"] + 3)
    windows = {w: ", ".join(f"{r['window']:.2f}" for r in rows[w]) for w in rows}
    commands = {w: ", ".join(f"{r['command']:.2f}" for r in rows[w]) for w in rows}
    ends = {w: ", ".join(f"{t:.2f}" for t in totals[w]) for w in totals}
    return "\n".join(
        [
            ("## module_update_real" if args.real else "## module_update")
            + ("" if args.timing == "lab" else "_" + args.timing.replace("-", "_")),
            "",
            f"`{command_line()}` ({stamp()}). One lab site (2 web replicas with a /web/health "
            f"healthcheck, a cron replica, PostgreSQL, Redis, {_what(args)}) gets "
            f"`-u {args.module}` {args.runs} times each way, alternating who goes first: the seed's "
            "shell sequence with the docker CLI, and the panel's `module_update` job run in-process as "
            "a worker runs it (backup off: the shell takes none). Both poll the engine at the same "
            "intervals (the panel's: 0.25 s inside the downtime, 1 s for the replicas coming back), "
            "and both end once every web replica and the cron run again. The same outside observer "
            "(the task list every 100 ms) times the window: from no `<site>_odoo` task running to the "
            "first one running again (healthcheck passed).",
            "",
            *_table(runs, med),
            "",
            f"Medians of {args.runs} runs (a part the observer did not see in a run, shown nan below, "
            "is left out of its median). Windows, shell: "
            f"{windows['shell']}; panel: {windows['panel']}. Commands, shell: {commands['shell']}; "
            f"panel: {commands['panel']}. End to end, shell: {ends['shell']}; panel: {ends['panel']}. "
            f"Load while measuring: {'; '.join(runs.loads)}.",
            "",
            f"Panel window / shell window = {ratio:.2f} (target <= 1.1: "
            f"{met(ratio <= 1.1)}); panel overhead {med['panel']['overhead']:.2f} s "
            f"(target < 5 s: {met(med['panel']['overhead'] < 5)}). End to end the "
            f"panel takes {med['panel']['total']:.2f} s against the shell's {med['shell']['total']:.2f} s: "
            "its steps (median s) "
            + step_medians(runs.steps)
            + "; Check and Verify read the installed modules (and addon checksums) with one-off tasks "
            "while the site serves, which the shell does not do.",
            "",
            "Through the edge (a client asking the site's domain at the lab's real Traefik every "
            "100 ms; downtime from its first answer that was not 200 to the first 200 after it): "
            f"panel {med['panel']['edge_window']:.2f} s, shell {med['shell']['edge_window']:.2f} s "
            f"(target: panel <= shell and <= odoo -u + 3 s = {med['panel']['odoo'] + 3:.2f} s: "
            f"{met(med['panel']['edge_window'] <= edge_target)}); "
            f"responses neither 200 nor the maintenance page: panel {med['panel']['bad']:.0f}, shell "
            f"{med['shell']['bad']:.0f} (target 0: {met(med['panel']['bad'] == 0)}). "
            + _edge_parts(med)[0].upper()
            + _edge_parts(med)[1:]
            + ".",
            "",
            f"Failed attempts, made again: {len(runs.failures)}"
            + ("".join(f"; {f}" for f in runs.failures) if runs.failures else "")
            + ".",
            "",
            f"    {result}",
        ]
    )
