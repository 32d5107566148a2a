"""The two ways the module_update benchmark updates a module: the sequence an admin runs by hand with
the docker CLI, and the panel's `module_update` job."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import Any


def shell_script(spec: Any, module: str, name: str, web: int) -> str:
    """The sequence by hand with the docker CLI, from the same rendered task the panel runs, polling
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
trap restore EXIT   # the replicas come back whatever happens
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


def run_job_here(kind: str, site: Any, params: dict[str, Any]) -> int:
    """Start a job and run it in this process, as a worker runs it; its id."""
    from jobs import control, runner

    job = control.start(kind, site=site, params=params)
    runner.execute(job.pk)
    return job.pk


def succeeded(job_id: int, failed: str) -> Any:
    """The job, once it has run; RuntimeError(`failed: <its error>`) unless it succeeded."""
    from jobs.models import Job

    job = Job.objects.get(pk=job_id)
    if job.state != "succeeded":
        raise RuntimeError(f"{failed}: {job.error}")
    return job


def run_panel(site: Any, module: str) -> tuple[float, dict[str, float]]:
    """The job, run here as a worker runs it; its end-to-end time and each step's seconds."""
    from datetime import datetime

    started = time.monotonic()
    job_id = run_job_here("module_update", site, {"modules": [module], "backup": False})
    total = time.monotonic() - started
    job = succeeded(job_id, "the panel's job failed")
    steps = {
        step["name"]: (
            datetime.fromisoformat(step["finished_at"]) - datetime.fromisoformat(step["started_at"])
        ).total_seconds()
        for step in job.steps
        if step.get("started_at") and step.get("finished_at")
    }
    return total, steps
