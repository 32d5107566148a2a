"""The figures of the log_stream benchmark: printed, in its RESULT line, and in its section of
bench/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import time

from bench._report import met, say


def fmt(x: float) -> str:
    return "NA" if x != x else f"{x:.1f}"  # NaN -> NA


def cpu_line(phase: dict, lines: int) -> str:
    cpu = phase["cpu"]
    per = 1000 / max(1, lines)
    return (
        f"CPU per 1,000 lines: worker {cpu.get('worker', 0) * per * 1000:.0f} ms, "
        f"web (all viewers) {cpu.get('web', 0) * per * 1000:.0f} ms, "
        f"redis {cpu.get('redis', 0) * per * 1000:.0f} ms; "
        f"the bench's own {phase['viewers']} viewers {cpu.get('viewers', 0) * per * 1000:.0f} ms"
    )


def totals(paced: dict, burst: dict | None) -> tuple[int, float]:
    """Lines lost over both phases, and the burst's rate to the slowest viewer (0 without a burst)."""
    return paced["lost"] + (burst["lost"] if burst else 0), burst["min_rate"] if burst else 0.0


def report(args: argparse.Namespace, paced: dict, burst: dict | None) -> str:
    """Print the figures; return the RESULT line."""
    say(
        f"  panel SSE  p50 {fmt(paced['p50'])} ms  p95 {fmt(paced['p95'])} ms  p99 {fmt(paced['p99'])} ms"
        f"  ({paced['viewers']} viewers, lost {paced['lost']}, duplicates {paced['dup']})"
    )
    say(
        f"  into Redis p50 {fmt(paced['redis_p50'])} ms  p95 {fmt(paced['redis_p95'])} ms"
        "  (the worker's part)"
    )
    say(
        f"  direct     p50 {fmt(paced['direct_p50'])} ms  p95 {fmt(paced['direct_p95'])} ms"
        f"  p99 {fmt(paced['direct_p99'])} ms  ({paced['direct_count']} lines)"
    )
    say(f"  {cpu_line(paced, args.lines)}")
    if burst:
        say(
            f"  burst: panel SSE {burst['min_rate']:.0f} lines/s to the slowest viewer "
            f"(median {burst['median_rate']:.0f}; into Redis {burst['redis_rate']:.0f}), "
            f"lost {burst['lost']}, duplicates {burst['dup']}; "
            f"direct {burst['direct_rate']:.0f} lines/s"
        )
        say(f"  {cpu_line(burst, args.burst)}")
    lost, rate = totals(paced, burst)
    return (
        f"RESULT log_stream p95_ms={fmt(paced['p95'])} direct_p95_ms={fmt(paced['direct_p95'])} "
        f"lines_per_s={rate:.0f} viewers={paced['viewers']} lost={lost}"
    )


def results_section(
    command: str, args: argparse.Namespace, paced: dict, burst: dict | None, result: str
) -> str:
    lost, rate = totals(paced, burst)
    target = paced["direct_p95"] * 1.2 + 50
    load_1m = os.getloadavg()[0]
    where = "lab service on a worker node"
    rows = [
        "| | p50 ms | p95 ms | p99 ms | lines/s (burst) | lost |",
        "|---|---|---|---|---|---|",
        f"| `docker service logs --follow` (direct) | {fmt(paced['direct_p50'])} "
        f"| {fmt(paced['direct_p95'])} "
        f"| {fmt(paced['direct_p99'])} | {burst['direct_rate'] if burst else 0:.0f} "
        f"| {args.lines - paced['direct_count']} |",
        f"| panel: into Redis (worker side) | {fmt(paced['redis_p50'])} | {fmt(paced['redis_p95'])} | | | |",
        f"| panel: SSE, {paced['viewers']} viewers (every 10th line timed, all counted) "
        f"| {fmt(paced['p50'])} | {fmt(paced['p95'])} "
        f"| {fmt(paced['p99'])} | {rate:.0f} (slowest viewer) | {lost} |",
    ]
    verdicts = (
        f"p95 <= 1.2 x direct + 50 ms = {fmt(target)} ms: {met(paced['p95'] <= target)}; "
        f">= 5,000 lines/s: {met(rate >= 5000)}; 50 viewers: {met(paced['viewers'] >= 50)}; "
        f"nothing lost: {met(lost == 0)}."
    )
    return (
        "## log_stream\n\n"
        f"`{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
        f"{load_1m:.1f} at the end; {where}; one uvicorn process, one prefork worker (-c 1), PostgreSQL, "
        "a private redis-server.\n\n"
        + "\n".join(rows)
        + f"\n\nPaced phase: {args.lines} lines at {args.rate:.0f}/s, {len(paced['runs'])} runs; the median "
        "run is shown (panel p95 / direct p95 of each: "
        + ", ".join(f"{fmt(a)} / {fmt(b)}" for a, b in paced["runs"])
        + f"; lost counts all runs). "
        f"Burst phase: {args.burst} lines, unpaced. "
        f"{cpu_line(paced, args.lines)} (paced).\n\nTargets: {verdicts}\n\n    {result}\n"
    )
