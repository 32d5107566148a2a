"""Benchmark: a rehearsal of a module update against the production update of the same change, and
the rehearsal's copy step against a plain `pg_dump | pg_restore` of the same database.

    python bench/rehearsal.py [--module shop_base] [--rows 300000] [--filestore-mb 20] [--write]

One lab site (2 web replicas, a cron replica, PostgreSQL on the first worker, Redis; the Odoo stand-in
with the demo modules installed) is seeded with `--rows` rows (~200 bytes each) in its database and
`--filestore-mb` MB of attachment files in its filestore, and its green-rehearsal policy is turned on.
Then, in this order, in the same run:
  (a) the peer: a plain `createdb COPY; pg_dump -Fc DB | pg_restore -d COPY` in a one-off task with
      the database image on the site's network, exactly where the panel's copy task runs;
  (b) the panel's `rehearsal` job of `-u MODULE`, run in this process as a worker runs it: copy
      (pg_dump -Z0 | pg_restore), neutralize and verify, the filestore copied, `-u` on the copy,
      both dropped; production serves meanwhile;
  (c) the production update of the same change (`module_update`, backup off as in the rehearsal),
      which the policy lets through because (b) passed.

rehearsal_s and update_s: each job end to end (as a user waits for it); ratio = rehearsal_s /
update_s. copy_mb_s: the database's size (pg_database_size, MB = 10^6 bytes) over the seconds of the
rehearsal's database copy task; pg_copy_mb_s: the same size over the seconds of the peer's task. Both
are timed the same way, from creating the one-off service to its removal (Swarm's start of the task
included: both pay it). The filestore copy's MB/s is printed too (`filestore_mb_s`).

The last line is `RESULT rehearsal rehearsal_s= update_s= copy_mb_s= pg_copy_mb_s= ratio=
filestore_mb_s=`; exit 0 whether or not a target is met; exit 1 and no RESULT line when it cannot
measure (no lab up: this benchmark never brings the lab up or down, no redis-server, a job failed).
It uses a fresh database `panel_bench_rehearsal` and a private redis-server for the jobs' live logs;
the site and everything it left on the nodes are removed at the end. bench/RESULTS.md is only
written with --write.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._django import fresh_database  # noqa: E402
from bench._lab import lab_needed  # noqa: E402
from bench._processes import kill_group, private_redis  # noqa: E402
from bench._report import add_write_flag, argument_parser, command_line, load, say, stamp, write_section  # noqa: E402
from bench._run import CannotMeasure, run  # noqa: E402
from bench.module_update_ways import run_job_here, succeeded  # noqa: E402
from bench.rehearsal_site import deploy, make_site, remove_site, seed, wait_running  # noqa: E402

PLAIN_COPY = 'dropdb --if-exists "$1" && createdb "$1" && pg_dump -Fc "$0" | pg_restore --no-owner -d "$1"'
MB = 1_000_000


@dataclass
class Figures:
    """What one run measured."""

    database_bytes: int = 0
    filestore_bytes: int = 0
    pg_copy_s: float = 0.0
    rehearsal_s: float = 0.0
    update_s: float = 0.0
    rehearsal: dict[str, Any] = field(default_factory=dict)  # the rehearsal job's result
    update: dict[str, Any] = field(default_factory=dict)  # the update job's steps, in seconds
    rehearsal_steps: dict[str, Any] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)

    def copy_mb_s(self) -> float:
        return self.database_bytes / MB / self.rehearsal["copy"]["database"]["seconds"]

    def pg_copy_mb_s(self) -> float:
        return self.database_bytes / MB / self.pg_copy_s

    def filestore_mb_s(self) -> float:
        copied = self.rehearsal["copy"]["filestore"]
        return copied["bytes"] / MB / copied["seconds"]


def parse_args() -> Any:
    parser = argument_parser(__doc__)
    parser.add_argument("--module", default="shop_base")
    parser.add_argument("--rows", type=int, default=300_000, help="rows seeded into the site's database")
    parser.add_argument("--filestore-mb", type=int, default=20, help="MB of files seeded into its filestore")
    add_write_flag(parser)
    return parser.parse_args()


def plain_copy(client: Any, site: Any) -> float:
    """The peer: seconds of a plain pg_dump | pg_restore task, from its creation to its removal."""
    from clusters import swarm_ops as ops
    from clusters.sites.site_spec import spec_for
    from clusters.stack.db_copy import COPY_SCRIPT, copy_name, render_copy_task, render_drop_task

    spec = spec_for(site)
    target = copy_name(spec, "pgplain")
    task = render_copy_task(spec, target, "bplain")  # the same image, network, credentials and names
    command = [part.replace(COPY_SCRIPT, PLAIN_COPY) for part in task.command or []]
    if command == task.command:
        raise CannotMeasure("the copy task's script is not where the peer expects it")
    task = replace(task, command=command)
    started = time.monotonic()
    code, lines = ops.run_one_off(client, task, 1800, lambda _: None)
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"the plain pg_dump | pg_restore failed: {lines[-3:]}")
    ops.run_one_off(client, render_drop_task(spec, target, "bplain"), 300, lambda _: None)
    return seconds


def timed_job(kind: str, site: Any, params: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    job_id = run_job_here(kind, site, params)
    seconds = time.monotonic() - started
    return seconds, succeeded(job_id, f"the {kind} job failed")


def measure(client: Any, site: Any, module: str, figures: Figures) -> None:
    figures.loads.append(f"before the peer: {load()}")
    figures.pg_copy_s = plain_copy(client, site)
    say(f"plain pg_dump | pg_restore: {figures.pg_copy_s:.2f} s ({load()})")
    wait_running(client, site.slug, site.replicas)
    figures.rehearsal_s, job = timed_job("rehearsal", site, {"modules": [module], "image": ""})
    figures.rehearsal = dict(job.result)
    figures.rehearsal_steps = step_seconds(job)
    say(f"rehearsal: {figures.rehearsal_s:.2f} s end to end, -u {figures.rehearsal['update_s']} s ({load()})")
    wait_running(client, site.slug, site.replicas)
    figures.update_s, job = timed_job("module_update", site, {"modules": [module], "backup": False})
    figures.update = step_seconds(job)
    say(f"production update: {figures.update_s:.2f} s end to end ({load()})")
    figures.loads.append(f"at the end: {load()}")


def step_seconds(job: Any) -> dict[str, float]:
    from datetime import datetime

    return {
        step["name"]: round(
            (
                datetime.fromisoformat(step["finished_at"]) - datetime.fromisoformat(step["started_at"])
            ).total_seconds(),
            2,
        )
        for step in job.steps
        if step.get("started_at") and step.get("finished_at")
    }


def result_line(f: Figures) -> str:
    return (
        f"RESULT rehearsal rehearsal_s={f.rehearsal_s:.2f} update_s={f.update_s:.2f} "
        f"copy_mb_s={f.copy_mb_s():.1f} pg_copy_mb_s={f.pg_copy_mb_s():.1f} "
        f"ratio={f.rehearsal_s / f.update_s:.2f} filestore_mb_s={f.filestore_mb_s():.1f}"
    )


def table(f: Figures) -> str:
    copied = f.rehearsal["copy"]
    rows = [
        ("rehearsal, end to end", f"{f.rehearsal_s:.2f}", ""),
        ("of which `-u` on the copy", f"{f.rehearsal['update_s']:.2f}", ""),
        ("production update, end to end", f"{f.update_s:.2f}", ""),
        (
            f"rehearsal's database copy task ({f.database_bytes / MB:.1f} MB)",
            f"{copied['database']['seconds']:.2f}",
            f"{f.copy_mb_s():.1f}",
        ),
        (
            "plain pg_dump \\| pg_restore task (same database)",
            f"{f.pg_copy_s:.2f}",
            f"{f.pg_copy_mb_s():.1f}",
        ),
        (
            f"rehearsal's filestore copy task ({copied['filestore']['files']} files)",
            f"{copied['filestore']['seconds']:.2f}",
            f"{f.filestore_mb_s():.1f}",
        ),
    ]
    return "\n".join(
        ["| what | seconds | MB/s |", "|---|---:|---:|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    )


def section(args: Any, f: Figures, result: str) -> str:
    return f"""## rehearsal

`{command_line()}` ({stamp()}). One lab site on the Odoo stand-in with the demo modules, its database
seeded with {args.rows:,} rows ({f.database_bytes / MB:.1f} MB, pg_database_size) and its filestore
with {f.filestore_bytes / MB:.1f} MB of files; its green-rehearsal policy on. In the same run: a plain
`pg_dump -Fc | pg_restore` of the database in a one-off task on the site's network (the peer), the
panel's rehearsal of `-u {args.module}` (copy, neutralize, verify, filestore copy, `-u` on the copy,
drop), then the production update of the same change (backup off), let through by the policy.
Load (uptime): {"; ".join(f.loads)}.

{table(f)}

The production update's steps (s): {", ".join(f"{k} {v}" for k, v in f.update.items())}. Both copy
tasks are timed from creating the one-off service to its removal, Swarm's start of the task included.
The panel's copy pipes an uncompressed dump (`pg_dump -Fc -Z0`) into pg_restore, after reading the
database's size; the peer pipes a dump compressed as `pg_dump -Fc` does by default. The rehearsal's
steps (s): {", ".join(f"{k} {v}" for k, v in f.rehearsal_steps.items())}.

    {result}
"""


def main() -> str:
    args = parse_args()
    redis_proc, client, site, lab = None, None, None, None
    try:
        from lab import api

        with lab_needed():
            lab = api.info()  # never `up`: the lab is shared, and brought up by whoever runs it
        redis_proc, redis_url = private_redis()
        os.environ["PANEL_JOB_LOG_REDIS_URL"] = redis_url  # job ids restart at 1: keep off the shared Redis
        fresh_database("panel_bench_rehearsal")
        client = lab.client()
        say(f"deploying a lab site and installing the demo modules ... ({load()})")
        site = make_site(lab)
        deploy(site)
        figures = Figures()
        figures.database_bytes, figures.filestore_bytes = seed(client, site, args.rows, args.filestore_mb)
        database, filestore = figures.database_bytes / MB, figures.filestore_bytes / MB
        say(f"site {site.slug}: database {database:.1f} MB, filestore +{filestore:.1f} MB")
        site.rehearsal_required = True  # the update below must pass the policy: the rehearsal is its proof
        site.save(update_fields=["rehearsal_required"])
        measure(client, site, args.module, figures)
        result = result_line(figures)
        if args.write:
            write_section("rehearsal", section(args, figures, result))
        return result
    except RuntimeError as exc:
        raise CannotMeasure(str(exc)) from exc
    finally:
        if client is not None and site is not None:
            remove_site(lab, client, site.slug)
        if redis_proc is not None:
            kill_group(redis_proc)


if __name__ == "__main__":
    run(main)
