"""Benchmark: the downtime of a module update, the seed's shell sequence vs the panel's job.

    python bench/module_update.py [--runs 5] [--module shop_base] [--write]

One lab site (2 web replicas, a cron replica, PostgreSQL, Redis; the demo modules installed) is
updated `--runs` times by each way, alternating, in the same run:
  (a) the shell sequence of the seed article (shared/seeds/000_c83735af3be6262f.txt) with the docker
      CLI, written the way a careful admin would: scale to 0 and wait until no task runs, a
      temporary service `--restart-condition none` on the site's network with the same image digest,
      mounts and environment running `odoo -d DB -u MODULE --stop-after-init --no-http`, wait for it
      to end, read its log, remove it, scale back (a trap restores the replicas on failure), wait
      until every web replica and the cron run again. Its loops poll at the panel's own intervals
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
shell_total_s= attempts=panel:N,shell:M` (N, M: attempts made for the `--runs` measured runs);
exit 0 whether or not a target is met. Exit 1 and no RESULT line when it cannot measure (no lab,
no docker CLI, no redis-server, a way that failed 3 times in a row). Brings up what it needs: the
lab (lab.api.up), a fresh database `panel_bench_module_update`, a private redis-server
for the job's live log; the site and its services are removed at the end. bench/RESULTS.md is
only written with --write.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._django import (  # noqa: E402
    CannotMeasure,
    add_write_flag,
    command_line,
    fresh_database,
    load,
    require_program,
    run,
    stamp,
    write_section,
)

POLL_S = 0.1  # the outside observer
MAX_ATTEMPTS = 3  # a run that fails (e.g. a timeout under load) is made again, and reported
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned"}


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- measuring from the outside ---------------------------------------------------------------------
@dataclass
class Sample:
    at: float
    web_running: int  # tasks of <site>_odoo in state running (healthy: they have a healthcheck)
    one_off: str  # state of the update one-off's task ("" when there is none)


@dataclass
class Observer:
    """Polls the engine every POLL_S: how many web tasks run, and the update one-off's state."""

    client: Any
    slug: str
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Observer:
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        api = self.client.api
        while not self._stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):  # a service removed between the two calls
                services = {s["ID"]: s["Spec"]["Name"] for s in api.services(filters={"name": self.slug})}
                web, one_off = 0, ""
                for task in api.tasks(filters={"service": list(services)}) if services else []:
                    name, state = services.get(task["ServiceID"], ""), task["Status"]["State"]
                    if name == f"{self.slug}_odoo" and state == "running":
                        web += 1
                    elif name.startswith(f"{self.slug}_update") and state != "new":
                        one_off = state
                self.samples.append(Sample(time.time(), web, one_off))
            self._stop.wait(max(0.0, POLL_S - (time.monotonic() - started)))

    def window(self, since: float) -> dict[str, float]:
        """The downtime window of the update that began after `since`, and its parts."""
        seen = [s for s in self.samples if s.at >= since]
        down = next(i for i, s in enumerate(seen) if s.web_running == 0)
        up = next(i for i in range(down, len(seen)) if seen[i].web_running > 0)
        during = seen[down : up + 1]
        created = next((s.at for s in during if s.one_off), float("nan"))
        running = next((s.at for s in during if s.one_off == "running"), float("nan"))
        ended = next((s.at for s in during if s.one_off in ENDED), float("nan"))
        return {
            "window": seen[up].at - seen[down].at,
            "command": ended - created,  # the one-off service, from its task to its exit
            "odoo": ended - running,  # the `odoo -u` process alone
            "to_task": created - seen[down].at,
            "task_start": running - created,
            "to_healthy": seen[up].at - ended,
        }


# --- the two ways --------------------------------------------------------------------------------------
def shell_script(spec: Any, module: str, name: str, web: int) -> str:
    """The seed's sequence with the docker CLI, from the same rendered task the panel runs, polling
    at the panel's own intervals."""
    from clusters import swarm_ops
    from clusters.stack.render import render_update_task

    fast, slow = swarm_ops.DOWNTIME_POLL_S, swarm_ops.POLL_S

    task = render_update_task(spec, [module])
    odoo, cron = spec.service_name("odoo"), spec.service_name("cron")
    flags = ["--detach", "--quiet", "--name", name, "--restart-condition", "none", "--no-healthcheck"]
    flags += ["--endpoint-mode", task.endpoint_spec.get("Mode", "vip")]
    for network in task.networks:
        flags += ["--network", network]
    for mount in task.mounts:
        flags += ["--mount", f"type={mount['Type']},source={mount['Source']},target={mount['Target']}"]
    for key, value in task.env.items():
        flags += ["--env", f"{key}={value}"]
    create = shlex.join(["docker", "service", "create", *flags, task.image, *task.args])
    running = r"grep -q '^Running'"
    ended = r"grep -qE '^(Complete|Failed|Shutdown|Rejected)'"
    return f"""
set -u
restore() {{
  docker service rm {name} >/dev/null 2>&1
  docker service scale --detach {odoo}={web} {cron}=1 >/dev/null
}}
trap restore EXIT   # the seed: a trap restores the replicas whatever happens
docker service scale --detach {odoo}=0 {cron}=0 >/dev/null
while docker service ps {odoo} {cron} --format '{{{{.CurrentState}}}}' | {running}; do sleep {fast}; done
{create}
until docker service ps {name} --format '{{{{.CurrentState}}}}' | {ended}; do sleep {fast}; done
docker service logs {name} 2>&1 | tail -3
trap - EXIT
restore
until [ "$(docker service ps {odoo} {cron} --filter desired-state=running --format '{{{{.CurrentState}}}}' \\
  | grep -c '^Running')" -ge {web + 1} ]; do sleep {slow}; done
"""


def run_shell(spec: Any, module: str, number: int, web: int) -> float:
    name = f"{spec.slug}_update_sh{number}"
    started = time.monotonic()
    env = {**os.environ, "DOCKER_HOST": "unix:///var/run/docker.sock"}
    done = subprocess.run(["bash", "-c", shell_script(spec, module, name, web)], env=env, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"the shell sequence failed: {done.stderr.decode()[-500:]}")
    return time.monotonic() - started


def run_panel(site: Any, module: str) -> tuple[float, dict[str, float]]:
    """The job, run here as a worker runs it; its end-to-end time and each step's seconds."""
    from datetime import datetime

    from jobs import control, runner
    from jobs.models import Job

    started = time.monotonic()
    job = control.start("module_update", site=site, params={"modules": [module], "backup": False})
    runner.execute(job.pk)
    total = time.monotonic() - started
    job = Job.objects.get(pk=job.pk)
    if job.state != "succeeded":
        raise RuntimeError(f"the panel's job failed: {job.error}")
    steps = {
        step["name"]: (
            datetime.fromisoformat(step["finished_at"]) - datetime.fromisoformat(step["started_at"])
        ).total_seconds()
        for step in job.steps
        if step.get("started_at") and step.get("finished_at")
    }
    return total, steps


# --- set-up -----------------------------------------------------------------------------------------
def start_redis() -> tuple[subprocess.Popen, str]:
    binary = require_program("redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def make_site(lab: Any) -> Any:
    """A lab site on the lab's Odoo image, deployed, with the demo modules installed."""
    from clusters.models import Cluster, Domain, Site
    from jobs import control, runner
    from jobs.models import Job
    from lab.api import FILESTORE_ROOT

    cluster = Cluster.objects.create(name="lab-bench", endpoint=lab.manager_socket, is_lab=True)
    slug = f"b{uuid.uuid4().hex[:8]}"
    site = Site.objects.create(
        cluster=cluster,
        slug=slug,
        image=lab.image("odoo").ref,
        series=lab.image("odoo").series,
        db_image=lab.image("postgres").ref,
        redis_image=lab.image("redis").ref,
        db_name=slug,
        db_node=lab.workers[0].hostname,
        replicas=2,
        filestore_kind=Site.Filestore.BIND,
        bind_path=f"{FILESTORE_ROOT}/{slug}",
        traefik_network="",
        traefik_certresolver="",
    )
    Domain.objects.create(site=site, name=f"{slug}.lab.test")
    control.enqueue = lambda job_id, task_id: None  # jobs run here, as a worker would run them
    for kind, params in (("deploy", {}), ("module_install", {"modules": ["shop_sale", "shop_stock"]})):
        job = control.start(kind, site=site, params={**params, "backup": False})
        runner.execute(job.pk)
        job = Job.objects.get(pk=job.pk)
        if job.state != "succeeded":
            raise RuntimeError(f"{kind} failed: {job.error}")
    site.refresh_from_db()
    return site


def remove_site(client: Any, slug: str) -> None:
    for service in client.services.list(filters={"name": f"{slug}_"}):
        with contextlib.suppress(Exception):
            service.remove()
    time.sleep(3)  # tasks must be gone before their network and volumes can go
    for network in client.networks.list(filters={"label": f"panel.site={slug}"}):
        with contextlib.suppress(Exception):
            network.remove()
    for volume in client.volumes.list(filters={"label": f"panel.site={slug}"}):
        with contextlib.suppress(Exception):
            volume.remove()


def wait_healthy(client: Any, slug: str, web: int, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        tasks = client.api.tasks(filters={"service": f"{slug}_odoo", "desired-state": "running"})
        if sum(1 for t in tasks if t["Status"]["State"] == "running") == web:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{slug}_odoo did not get back to {web} running tasks")


def median(values: list[float]) -> float:
    """The median of the values observed: a part the 100 ms observer did not see (NaN: e.g. a
    one-off that ended and was removed between two polls) is left out, not sorted in at random."""
    seen = [v for v in values if v == v]
    return statistics.median(seen) if seen else float("nan")


KEYS = ("window", "command", "odoo", "to_task", "task_start", "to_healthy")


def summary(rows: dict[str, list[dict[str, float]]], totals: dict[str, list[float]]) -> dict[str, Any]:
    """Medians per way: the window and its parts, overheads, end-to-end."""
    med = {way: {k: median([r[k] for r in rows[way]]) for k in KEYS} for way in rows}
    for way in rows:
        med[way]["overhead"] = median([r["window"] - r["command"] for r in rows[way]])
        med[way]["overhead_odoo"] = median([r["window"] - r["odoo"] for r in rows[way]])
        med[way]["total"] = median(totals[way])
    return med


def report(
    rows: dict[str, list[dict[str, float]]],
    totals: dict[str, list[float]],
    steps: list[dict[str, float]],
    attempts: dict[str, int],
) -> str:
    """Per run: the window and its parts (stop -> one-off task, task -> odoo running, odoo itself,
    one-off ended -> first replica healthy); overhead = window - command (the one-off service from
    its task to its exit); overhead_odoo = window - the odoo process alone. Medians below."""
    say("")
    say("way   run  " + "  ".join(f"{k}_s" for k in KEYS) + "  overhead_s  overhead_odoo_s  total_s")
    for way in ("shell", "panel"):
        for i, (row, total) in enumerate(zip(rows[way], totals[way], strict=True), 1):
            parts = "  ".join(f"{row[k]:{len(k) + 2}.2f}" for k in KEYS)
            say(
                f"{way:<5} {i:>3}  {parts}  {row['window'] - row['command']:10.2f}  "
                f"{row['window'] - row['odoo']:15.2f}  {total:7.2f}"
            )
    med = summary(rows, totals)
    say("")
    for way in ("shell", "panel"):
        m = med[way]
        say(
            f"{way}: median window {m['window']:.2f} s; command {m['command']:.2f} s "
            f"(odoo -u {m['odoo']:.2f} s); overhead {m['overhead']:.2f} s "
            f"(beyond odoo -u alone: {m['overhead_odoo']:.2f} s); median end to end {m['total']:.2f} s; "
            f"{attempts[way]} attempts for {len(rows[way])} runs"
        )
    names = list(dict.fromkeys(name for run_steps in steps for name in run_steps))
    say(
        "panel steps, median s: "
        + ", ".join(f"{n} {median([s[n] for s in steps if n in s]):.2f}" for n in names)
    )
    ratio = med["panel"]["window"] / med["shell"]["window"]
    say(
        f"targets: panel window <= 1.1 x shell's ({ratio:.2f}x), overhead < 5 s "
        f"({med['panel']['overhead']:.2f} s)"
    )
    return (
        f"RESULT module_update panel_downtime_s={med['panel']['window']:.2f} "
        f"shell_downtime_s={med['shell']['window']:.2f} ratio={ratio:.2f} "
        f"overhead_s={med['panel']['overhead']:.2f} panel_total_s={med['panel']['total']:.2f} "
        f"shell_total_s={med['shell']['total']:.2f} "
        f"attempts=panel:{attempts['panel']},shell:{attempts['shell']}"
    )


def section(
    args: argparse.Namespace,
    rows: dict[str, list[dict[str, float]]],
    totals: dict[str, list[float]],
    steps: list[dict[str, float]],
    attempts: dict[str, int],
    failures: list[str],
    loads: list[str],
    result: str,
) -> str:
    med = summary(rows, totals)
    names = list(dict.fromkeys(name for run_steps in steps for name in run_steps))
    table = [
        "| way | window s | command s (odoo -u alone) | stop -> one-off | one-off ended -> replica healthy "
        "| overhead s | end to end s | attempts |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for way in ("shell", "panel"):
        m = med[way]
        table.append(
            f"| {way} | {m['window']:.2f} | {m['command']:.2f} ({m['odoo']:.2f}) | {m['to_task']:.2f} "
            f"| {m['to_healthy']:.2f} | {m['overhead']:.2f} | {m['total']:.2f} "
            f"| {attempts[way]} for {len(rows[way])} runs |"
        )
    ratio = med["panel"]["window"] / med["shell"]["window"]
    windows = {w: ", ".join(f"{r['window']:.2f}" for r in rows[w]) for w in rows}
    commands = {w: ", ".join(f"{r['command']:.2f}" for r in rows[w]) for w in rows}
    ends = {w: ", ".join(f"{t:.2f}" for t in totals[w]) for w in totals}
    return "\n".join(
        [
            "## module_update",
            "",
            f"`{command_line()}` ({stamp()}). One lab site (2 web replicas with a /web/health "
            f"healthcheck, a cron replica, PostgreSQL, Redis, the demo modules installed) gets "
            f"`-u {args.module}` {args.runs} times each way, alternating who goes first: the seed's "
            "shell sequence with the docker CLI, and the panel's `module_update` job run in-process as "
            "a worker runs it (backup off: the shell takes none). Both poll the engine at the same "
            "intervals (the panel's: 0.25 s inside the downtime, 1 s for the replicas coming back), "
            "and both end once every web replica and the cron run again. The same outside observer "
            "(the task list every 100 ms) times the window: from no `<site>_odoo` task running to the "
            "first one running again (healthcheck passed).",
            "",
            *table,
            "",
            f"Medians of {args.runs} runs (a part the observer did not see in a run, shown nan below, "
            "is left out of its median). Windows, shell: "
            f"{windows['shell']}; panel: {windows['panel']}. Commands, shell: {commands['shell']}; "
            f"panel: {commands['panel']}. End to end, shell: {ends['shell']}; panel: {ends['panel']}. "
            f"Load while measuring: {'; '.join(loads)}.",
            "",
            f"Panel window / shell window = {ratio:.2f} (target <= 1.1: "
            f"{'met' if ratio <= 1.1 else 'NOT met'}); panel overhead {med['panel']['overhead']:.2f} s "
            f"(target < 5 s: {'met' if med['panel']['overhead'] < 5 else 'NOT met'}). End to end the "
            f"panel takes {med['panel']['total']:.2f} s against the shell's {med['shell']['total']:.2f} s: "
            "its steps (median s) "
            + ", ".join(f"{n} {median([s[n] for s in steps if n in s]):.2f}" for n in names)
            + "; Check and Verify read the installed modules (and addon checksums) with one-off tasks "
            "while the site serves, which the shell does not do.",
            "",
            f"Failed attempts, made again: {len(failures)}"
            + ("".join(f"; {f}" for f in failures) if failures else "")
            + ".",
            "",
            f"    {result}",
        ]
    )


def main() -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--module", default="shop_base")
    add_write_flag(parser)
    args = parser.parse_args()
    require_program("docker")  # the shell way is the docker CLI
    redis_proc, client, slug = None, None, ""
    try:
        from lab import api
        from lab import daemon as engine

        try:
            engine.install()
            lab = api.up(2, log=lambda line: say(f"lab: {line}"))
        except Exception as exc:
            raise CannotMeasure(f"the local Swarm lab is not available: {type(exc).__name__}: {exc}") from exc
        redis_proc, redis_url = start_redis()
        os.environ["PANEL_JOB_LOG_REDIS_URL"] = redis_url  # job ids restart at 1: keep off the shared Redis
        fresh_database("panel_bench_module_update")
        import docker

        from clusters.sites.site_spec import spec_for

        client = docker.DockerClient(base_url=lab.manager_socket)
        say("deploying a lab site and installing the demo modules ...")
        site = make_site(lab)
        slug, spec, web = site.slug, spec_for(site), site.replicas
        say(f"site {slug}: {web} web replicas on {spec.odoo_image_ref}; updating {args.module}")
        observer = Observer(client, slug).start()
        rows: dict[str, list[dict[str, float]]] = {"shell": [], "panel": []}
        totals: dict[str, list[float]] = {"shell": [], "panel": []}
        attempts = {"shell": 0, "panel": 0}
        steps: list[dict[str, float]] = []
        failures: list[str] = []
        loads = [f"at the start {load()}"]
        for n in range(1, args.runs + 1):
            for way in ("shell", "panel") if n % 2 else ("panel", "shell"):  # alternate who goes first
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    wait_healthy(client, slug, web)
                    time.sleep(2)
                    since = time.time()
                    attempts[way] += 1
                    try:
                        if way == "shell":
                            total = run_shell(spec, args.module, n * 10 + attempt, web)
                        else:
                            total, run_steps = run_panel(site, args.module)
                    except RuntimeError as exc:  # counted and reported; the run is made again
                        failures.append(f"run {n} {way} attempt {attempt}: {str(exc)[:200]}")
                        say(f"run {n} {way} FAILED: {exc}")
                        continue
                    wait_healthy(client, slug, web)
                    time.sleep(0.5)
                    rows[way].append(observer.window(since))
                    totals[way].append(total)
                    if way == "panel":
                        steps.append(run_steps)
                    say(
                        f"run {n} {way}: window {rows[way][-1]['window']:.2f} s, end to end {total:.2f} s "
                        f"(attempt {attempt}; {load()})"
                    )
                    break
                else:
                    raise CannotMeasure(f"{way} failed {MAX_ATTEMPTS} times in a row: {failures[-1]}")
        loads.append(f"at the end {load()}")
        observer.stop()
        result = report(rows, totals, steps, attempts)
        say(f"failed attempts (made again): {len(failures)}" + "".join(f"\n  {f}" for f in failures))
        if args.write:
            write_section(
                "module_update", section(args, rows, totals, steps, attempts, failures, loads, result)
            )
        return result
    finally:
        if client is not None and slug:
            remove_site(client, slug)
        if redis_proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(redis_proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    run(main)
