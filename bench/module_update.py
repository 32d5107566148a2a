"""Benchmark: the downtime of a module update, the shell sequence by hand vs the panel's job.

    python bench/module_update.py [--runs 5] [--module shop_base] [--real] [--timing lab] [--write]

One lab site (2 web replicas, a cron replica, PostgreSQL, Redis; the demo modules installed) is
updated `--runs` times by each way, alternating, in the same run:
  (a) the shell sequence an admin runs by hand with the docker CLI, written the way a careful
      admin would: scale to 0 and wait until no task runs, a temporary service
      `--restart-condition none` on the site's network with the same image digest, mounts and
      environment running `odoo -d DB -u MODULE --stop-after-init --no-http`, wait for it to end,
      read its log, remove it, scale back (a trap restores the replicas on failure), wait until
      every web replica and the cron run again. Its loops poll at the panel's own intervals
      (clusters.swarm_ops: DOWNTIME_POLL_S inside the downtime, POLL_S for the replicas coming
      back), so that neither side wins by polling more often. `docker service scale` is run with
      --detach: without it the CLI waits out the service's update monitor (LAB_TIMING, seconds)
      even when scaling to 0, which would hand the panel a strawman;
  (b) the panel: a `module_update` job run in this process exactly as a worker runs it (claim,
      steps, log, compensation), without the backup (the shell takes none; a backup runs before the
      downtime anyway).

Both are measured from the outside in the same way: a thread polls the engine's task list every
100 ms. The downtime window runs from the first poll where no task of <site>_odoo is running (the
last replica stopped) to the first poll after it where one is running again; Swarm reports an
Odoo task `running` only once its healthcheck (/web/health) passed, so that is the first replica
healthy. The same polls time the update command itself: its one-off service, from its task to its
exit (Swarm starting its container included: any way of running the command on the cluster pays
it). Overhead = window - command: noticing the stop and creating the one-off, then noticing its end
and getting a replica back healthy. The stricter figure, window minus the `odoo -u` process alone,
is printed too.

End to end (total): from the start of each way until it returned, both having waited for every
web replica and the cron to run again; the panel's includes its reads before and after (installed
modules, addon checksums, while the site serves), whose step times are printed. A run that fails
(a timeout under load) is made again, up to 3 times; the attempts each side needed are counted.

Figures: medians over the runs; the last line is
`RESULT module_update panel_downtime_s= shell_downtime_s= ratio= overhead_s= panel_total_s=
shell_total_s= attempts=panel:N,shell:M edge_downtime_s= shell_edge_downtime_s= bad_responses=`
(N, M: attempts made for the `--runs` measured runs; the edge keys: what a client polling the site's
domain through the lab's real Traefik every 100 ms saw, bench/module_update_edge.py);
exit 0 whether or not a target is met. Exit 1 and no RESULT line when it cannot measure (no lab,
no docker CLI, no redis-server, a way that failed 3 times in a row). Brings up what it needs: the
lab (lab.api.up), a fresh database `panel_bench_module_update`, a private redis-server
for the job's live log; the site and its services are removed at the end. bench/RESULTS.md is
only written with --write.

--timing shipped: the site keeps SiteSpec's shipped healthcheck and update defaults instead of the lab's
short ones (what users see on a production site; section module_update_shipped); shipped-30s: the same
with the first check 30 s after a start, as before service_parts.health_timing (module_update_shipped_30s).

--real: the same on real Odoo 19 (the lab's odoo19-real image with the user's addon lab_note,
lab/site_images.py), updating lab_note; the RESULT line gains `odoo_u_s=` (the panel's `odoo -u`
process alone, median), and --write fills the section `module_update_real`, beside the stand-in's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._django import fresh_database  # noqa: E402
from bench._lab import lab_needed  # noqa: E402
from bench._processes import kill_group, private_redis  # noqa: E402
from bench._report import add_write_flag, argument_parser, load, say, write_section  # noqa: E402
from bench._run import CannotMeasure, require_program, run  # noqa: E402
from bench.module_update_edge import EdgeObserver, edge_lead_lag  # noqa: E402
from bench.module_update_observer import Observer  # noqa: E402
from bench.module_update_report import Runs, report, section  # noqa: E402
from bench.module_update_site import make_site, remove_site, wait_healthy  # noqa: E402
from bench.module_update_ways import run_panel, run_shell  # noqa: E402

MAX_ATTEMPTS = 3  # a run that fails (e.g. a timeout under load) is made again, and reported


@dataclass
class Subject:
    """The site both ways update, the engine it runs on, and the observer timing it."""

    client: Any
    site: Any
    spec: Any
    web: int
    observer: Observer
    edge: EdgeObserver


# The site's timing (clusters.sites.site_spec.LAB_TIMING is what a lab site gets): `shipped` is
# SiteSpec's own defaults (interval 30 s, start period 180 s), rendered for the lab's engine (20.10,
# without StartInterval: the interval becomes the start interval, service_parts.health_timing);
# `shipped-30s` is the same with the start checked only every 30 s, as the panel rendered it before.
TIMINGS: dict[str, dict[str, int] | None] = {
    "lab": None,
    "shipped": {},
    "shipped-30s": {"health_start_interval_s": 30},
}


def parse_args() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--module", help="default: shop_base (stand-in), lab_note (--real)")
    parser.add_argument("--real", action="store_true", help="on real Odoo 19 (lab/images/odoo19-real)")
    parser.add_argument(
        "--timing",
        choices=sorted(TIMINGS),
        default="lab",
        help="the site's healthcheck and update timing: the lab's (default), the shipped defaults as "
        "rendered for this engine, or those defaults with the first check 30 s after a start",
    )
    add_write_flag(parser)
    return parser.parse_args()


def bring_up_lab() -> Any:
    from lab import api
    from lab import daemon as engine

    with lab_needed():
        engine.install()
        return api.up(2, log=lambda line: say(f"lab: {line}"))


def one_run(subject: Subject, runs: Runs, module: str, n: int, way: str) -> None:
    """Run `way` once, made again after a failure up to MAX_ATTEMPTS times in all."""
    client, slug, web = subject.client, subject.site.slug, subject.web
    for attempt in range(1, MAX_ATTEMPTS + 1):
        wait_healthy(client, slug, web)
        time.sleep(2)
        since = time.time()
        runs.attempts[way] += 1
        try:
            if way == "shell":
                total = run_shell(subject.spec, module, n * 10 + attempt, web)
            else:
                total, run_steps = run_panel(subject.site, module)
        except RuntimeError as exc:  # counted and reported; the run is made again
            runs.failures.append(f"run {n} {way} attempt {attempt}: {str(exc)[:200]}")
            say(f"run {n} {way} FAILED: {exc}")
            continue
        wait_healthy(client, slug, web)
        time.sleep(0.5)
        runs.rows[way].append(subject.observer.window(since))
        edge = subject.edge.window(since, time.time())
        runs.edge[way].append({**edge, **edge_lead_lag(edge, runs.rows[way][-1])})
        runs.totals[way].append(total)
        if way == "panel":
            runs.steps.append(run_steps)
        say(
            f"run {n} {way}: window {runs.rows[way][-1]['window']:.2f} s, end to end {total:.2f} s "
            f"(attempt {attempt}; {load()})"
        )
        return
    raise CannotMeasure(f"{way} failed {MAX_ATTEMPTS} times in a row: {runs.failures[-1]}")


def measure(subject: Subject, args: argparse.Namespace) -> Runs:
    runs = Runs(loads=[f"at the start {load()}"])
    for n in range(1, args.runs + 1):
        for way in ("shell", "panel") if n % 2 else ("panel", "shell"):  # alternate who goes first
            one_run(subject, runs, args.module, n, way)
    runs.loads.append(f"at the end {load()}")
    subject.observer.stop()
    subject.edge.stop()
    return runs


def main() -> str:
    args = parse_args()
    args.module = args.module or ("lab_note" if args.real else "shop_base")
    require_program("docker")  # the shell way is the docker CLI
    redis_proc, client, slug = None, None, ""
    try:
        lab = bring_up_lab()
        redis_proc, redis_url = private_redis()
        os.environ["PANEL_JOB_LOG_REDIS_URL"] = redis_url  # job ids restart at 1: keep off the shared Redis
        fresh_database("panel_bench_module_update")
        import docker

        from clusters.sites.site_spec import spec_for

        if TIMINGS[args.timing] is not None:
            from clusters.sites import site_spec

            site_spec.LAB_TIMING = TIMINGS[args.timing]  # type: ignore[assignment]
        client = docker.DockerClient(base_url=lab.manager_socket)
        say(f"deploying a lab site ({'real Odoo 19' if args.real else 'the stand-in'}) and installing ...")
        site = make_site(lab, real=args.real)
        slug, spec, web = site.slug, spec_for(site), site.replicas
        say(f"site {slug}: {web} web replicas on {spec.odoo_image_ref}; updating {args.module}")
        domain = site.domains.get().name
        edge = EdgeObserver(domain).start()
        runs = measure(Subject(client, site, spec, web, Observer(client, slug).start(), edge), args)
        result = report(runs, real=args.real)
        say(
            f"failed attempts (made again): {len(runs.failures)}" + "".join(f"\n  {f}" for f in runs.failures)
        )
        if args.write:
            name = "module_update_real" if args.real else "module_update"
            suffix = "" if args.timing == "lab" else "_" + args.timing.replace("-", "_")
            write_section(name + suffix, section(args, runs, result))
        return result
    finally:
        if client is not None and slug:
            remove_site(client, slug)
        if redis_proc is not None:
            kill_group(redis_proc)


if __name__ == "__main__":
    run(main)
