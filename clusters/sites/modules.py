"""The site's installed modules, read from its own database (ir_module_module) by a one-off task on the
site's network, the only place the database can be reached from.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import docker
from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.job_client import job_client
from clusters.models import Site
from clusters.sites.checksums import changed_modules, read_checksums
from clusters.sites.client import one_off_guard
from clusters.sites.site_spec import spec_for
from clusters.stack.render import ServiceSpec, render_query_task
from jobs.runner import JobFailed, JobRunner, register

# A read of the site's database that fails for a reason of the overlay network is tried again
# for this long: a task on a node new to the network cannot resolve the database's name until
# Swarm's gossip reaches that node, which took over 20 s on a busy lab.
QUERY_RETRY_S = 90
TRANSIENT_PSQL_ERRORS = ("timeout expired", "could not translate host name", "Connection refused")
MODULES_SQL = (
    "SELECT m.name, m.state, COALESCE(m.latest_version, ''), "
    "COALESCE(string_agg(d.name, ',' ORDER BY d.name), '') "
    "FROM ir_module_module m LEFT JOIN ir_module_module_dependency d ON d.module_id = m.id "
    "WHERE m.state NOT IN ('uninstalled', 'uninstallable') "
    "GROUP BY m.id, m.name, m.state, m.latest_version ORDER BY m.name"
)


def run_db_reader(
    client: docker.DockerClient,
    task: ServiceSpec,
    deadline_s: float,
    *,
    log: Any,
    guard: JobRunner | None = None,
    show_lines: bool = False,
    what: str,
) -> tuple[int, list[str]]:
    """Run a one-off task that only reads the site's database (psql, pg_dump) to its end; run it
    again while it fails for a reason of the overlay network, for up to QUERY_RETRY_S. A fresh
    task's first connection can time out, or not resolve the database's name, while the network's
    VXLAN entries and names settle on its node (seen right after services are scaled, and on a busy
    cluster): a read is safe to repeat. `show_lines`: each line of the task goes to `log` too."""
    give_up_at = time.monotonic() + QUERY_RETRY_S
    for attempt in itertools.count(1):
        with one_off_guard(guard, task.name):
            code, lines = ops.run_one_off(client, task, deadline_s, log if show_lines else lambda _line: None)
        transient = any(mark in " ".join(lines) for mark in TRANSIENT_PSQL_ERRORS)
        if code == 0 or not transient or time.monotonic() + 2 * attempt > give_up_at:
            return code, lines
        log(
            f"{what}: {lines[-1] if lines else 'no answer'}; "
            f"trying again in {2 * attempt} s (attempt {attempt + 1}, for up to {QUERY_RETRY_S} s in all)"
        )
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")  # itertools.count never ends


def read_modules_and_depends(
    client: docker.DockerClient, site: Site, run_id: str, log: Any, guard: JobRunner | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """ir_module_module of the site's database (with each module's ir_module_module_dependency),
    read by psql in a one-off task on the site's network (the database is only reachable there).
    Returns name -> [state, latest_version] and name -> [direct depends].
    `guard`: the job to record the one-off task in (see one_off_guard)."""
    task = render_query_task(spec_for(site), MODULES_SQL, run_id)
    code, lines = run_db_reader(client, task, 120, log=log, guard=guard, what="reading the modules")
    if code != 0:
        raise JobFailed("reading the installed modules failed: " + " ".join(lines[-3:]))
    modules: dict[str, list[str]] = {}
    depends: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split("|")
        if len(parts) == 4:
            modules[parts[0]] = [parts[1], parts[2]]
            depends[parts[0]] = [d for d in parts[3].split(",") if d]
    log(f"{len(modules)} modules known to {site.db_name} (installed or in a transient state)")
    return modules, depends


def read_modules(
    client: docker.DockerClient, site: Site, run_id: str, log: Any, guard: JobRunner | None = None
) -> dict[str, list[str]]:
    """name -> [state, latest_version]; also stores the rows on the site, with their depends and
    the time they were read."""
    modules, depends = read_modules_and_depends(client, site, run_id, log, guard)
    Site.objects.filter(pk=site.pk).update(
        installed_modules=modules, module_depends=depends, modules_read_at=timezone.now()
    )
    return modules


@register
class ReadModulesRunner(JobRunner):
    """Read the site's installed modules, with the time they were read (used by the update form
    and by the approval gate)."""

    kind = "read_modules"
    mutating = False
    plan = ["Read ir_module_module"]

    def run(self) -> dict[str, Any]:
        site = self.site
        with job_client(self) as client, self.step("Read ir_module_module"):
            modules = read_modules(client, site, f"j{self.job.pk}", self.log, guard=self)
            # What the update form offers: modules whose code changed since their last update.
            try:
                current = read_checksums(client, site, f"j{self.job.pk}", self.log, guard=self)
            except (RuntimeError, ValueError) as exc:  # advisory: the modules read still stands
                self.log(f"addon checksums not read: {exc}", "stderr")
                current = None
        installed = sorted(n for n, (state, _) in modules.items() if state == "installed")
        site.refresh_from_db(fields=["installed_modules", "module_checksums"])
        changed = changed_modules(site, current).as_dict() if current is not None else {}
        return {
            "installed": len(installed),
            "transient": sorted(n for n, (s, _) in modules.items() if s.startswith("to ")),
            **changed,
        }
