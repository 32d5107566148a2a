"""The module update, step by step (design.md), as one job that never leaves a site down.

    Check     refuse all/base, names that are not plain, modules not installed (`-u` ignores them),
              modules whose manifest change the gate has not approved; refuse transient states
    Record    the replicas of <site>_odoo and <site>_cron, into the Job row (compensation) first
    Backup    pg_dump in a one-off task, kept with its size and time (restorable by a job)
    Scale     both services to 0, and wait until no task runs
    Update    one-off `odoo -d DB -u MODULES --stop-after-init --no-http`, same digest, network,
              mounts and env, restart condition none; its log streamed into the job
    Restore   remove the one-off service and restore the recorded replicas, whatever happened
    Verify    wait healthy; no module left in a `to ...` state

Judged by exit code AND log (jobs.odoo_log). If the worker dies at any step, the reaper runs the
compensation recorded here: restore_replicas and remove_service (clusters/runners.py).
"""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.models import Backup, Site
from clusters.runners import read_modules, site_client
from clusters.site_spec import spec_for
from clusters.stack import SpecError
from clusters.stack.render import render_backup_task, render_restore_task, render_update_task
from clusters.stack.spec import validate_modules
from jobs.dockerlogs import Follower, service_frames
from jobs.odoo_log import judge
from jobs.runner import JobFailed, JobRunner, register

UPDATE_DEADLINE_S = 3 * 3600
STOP_DEADLINE_S = 300
HEALTHY_DEADLINE_S = 900


def check_request(
    site: Site, modules: list[str], installed: dict[str, list[str]], install: bool = False
) -> tuple[str, ...]:
    """The refusals of step 1, each with its reason; returns the clean module tuple."""
    try:
        names = validate_modules(modules)
    except SpecError as exc:
        raise JobFailed(str(exc)) from exc
    missing = [m for m in names if installed.get(m, ["uninstalled"])[0] != "installed"]
    if install:
        already = [m for m in names if m not in missing]
        if already:
            raise JobFailed(
                f"already installed: {', '.join(already)} (`-i` ignores them; update them instead)"
            )
    elif missing:
        raise JobFailed(
            f"not installed in {site.db_name}: {', '.join(missing)}. `-u` silently ignores modules that are "
            "not installed; install them instead (odoo -i)."
        )
    stuck = sorted(n for n, (state, _) in installed.items() if state.startswith("to "))
    if stuck:
        raise JobFailed(
            f"modules left in a transient state from an earlier run: {', '.join(stuck)}; fix those first"
        )
    from jobs.gate_hooks import unapproved_changes

    blocked = unapproved_changes(site, names)
    if blocked:
        raise JobFailed(f"a manifest change is not approved for: {', '.join(blocked)} (see Manifest changes)")
    return names


class QuietSiteRunner(JobRunner):
    """A job that needs the site's database to itself: record, scale to 0, restore whatever happens."""

    def record_replicas(self, client: Any, site: Site) -> dict[str, int]:
        recorded = {}
        for name in (f"{site.slug}_odoo", f"{site.slug}_cron"):
            service = ops.find_service(client, name)
            if service is None:
                raise JobFailed(f"{name} does not exist: deploy the site first")
            recorded[name] = ops.replicas_of(service) or 0
        # Written to the Job row before anything changes: whoever ends this job restores them.
        self.set_compensation("restore_replicas_all", services=recorded)
        self.log("recorded replicas: " + ", ".join(f"{n}={r}" for n, r in recorded.items()))
        return recorded

    def scale_to_zero(self, client: Any, recorded: dict[str, int]) -> None:
        for name in recorded:
            ops.scale(client, name, 0)
        for name in recorded:
            ops.wait_stopped(client, name, STOP_DEADLINE_S)
        self.log("no Odoo task runs: the database is free")

    def restore_replicas(self, client: Any, recorded: dict[str, int]) -> None:
        since = timezone.now()
        for name, replicas in recorded.items():
            ops.scale(client, name, replicas)
        for name in recorded:
            ops.wait_converged(client, name, since=since, deadline_s=HEALTHY_DEADLINE_S, log=self.log)
        self.clear_compensation("restore_replicas_all")
        self.log("replicas restored: " + ", ".join(f"{n}={r}" for n, r in recorded.items()))


@register
class ModuleUpdateRunner(QuietSiteRunner):
    kind = "module_update"
    install = False
    plan = ["Check", "Record replicas", "Backup", "Scale to 0", "Update", "Restore replicas", "Verify"]

    def run(self) -> dict[str, Any]:
        site = self.site
        requested = list(self.params.get("modules", []))
        run_id = f"j{self.job.pk}"
        timings: dict[str, float] = {}
        with site_client(self) as client:
            with self.step("Check"):
                installed = read_modules(client, site, run_id, self.log)
                modules = check_request(site, requested, installed, install=self.install)
                spec = spec_for(site)
                if not spec.image_digest:
                    raise JobFailed("the site has no pinned digest: deploy it first")
                self.log(f"updating {', '.join(modules)} in {site.db_name} on {spec.odoo_image_ref}")
            with self.step("Record replicas"):
                recorded = self.record_replicas(client, site)
                Site.objects.filter(pk=site.pk).update(status=Site.Status.UPDATING)
            backup = None
            if self.params.get("backup", True):
                with self.step("Backup"):
                    backup = take_backup(self, client, site, run_id)
            try:
                with self.step("Scale to 0"):
                    self.scale_to_zero(client, recorded)
                    timings["stopped_at"] = time.time()
                with self.step("Update"):
                    verdict = self._update(client, spec, modules, run_id)
            finally:
                with self.step("Restore replicas"):
                    self.restore_replicas(client, recorded)
                    timings["healthy_at"] = time.time()
            with self.step("Verify"):
                after = read_modules(client, site, run_id, self.log)
                stuck = sorted(n for n, (state, _) in after.items() if state.startswith("to "))
                Site.objects.filter(pk=site.pk).update(
                    installed_modules=after, modules_read_at=timezone.now()
                )
        if stuck:
            verdict.ok = False
            verdict.reasons.append(f"modules left in a transient state: {', '.join(stuck)}")
        result = {
            "modules": list(modules),
            "verdict": verdict.as_dict(),
            "versions": {m: after.get(m, ["", ""])[1] for m in modules},
            "backup": backup,
            "downtime_s": round(timings["healthy_at"] - timings.get("stopped_at", timings["healthy_at"]), 2),
        }
        self.job.result = result
        if not verdict.ok:
            for line in verdict.error_lines[:20]:
                self.log(line, "stderr")
            raise JobFailed("the update failed: " + "; ".join(verdict.reasons))
        Site.objects.filter(pk=site.pk).update(status=Site.Status.HEALTHY)
        return result

    def _update(self, client: Any, spec: Any, modules: tuple[str, ...], run_id: str) -> Any:
        task = render_update_task(spec, modules, run_id, install=self.install)
        ops.remove_service(client, task.name)
        self.set_compensation("remove_service", service=task.name)
        collected: list[str] = []

        def sink(lines: list[tuple[str, str, Any]]) -> None:
            collected.extend(text for text, _, _ in lines)
            self.log_lines(lines)

        ops.apply_service(client, task)
        frames, close = service_frames(client.api, task.name)
        follower = Follower(frames, close, sink).start()
        try:
            state, code, message = ops.wait_one_off(client, task.name, UPDATE_DEADLINE_S)
        finally:
            follower.stop()
        if follower.error or not collected:
            # The stream can miss the last lines of a fast task: read the stored log once more.
            collected = ops.service_logs(client, task.name) or collected
        self.log(f"the update task ended {state} with exit code {code}" + (f": {message}" if message else ""))
        ops.remove_service(client, task.name)
        self.clear_compensation("remove_service")
        return judge(code, collected)


@register
class ModuleInstallRunner(ModuleUpdateRunner):
    """The same safe sequence with `-i`, for modules not installed yet."""

    kind = "module_install"
    install = True


def take_backup(runner: JobRunner, client: Any, site: Site, run_id: str) -> dict[str, Any]:
    """pg_dump by a one-off task into the site's backup volume, kept with its size and time."""
    from clusters.deploy import run_one_off

    filename = f"{site.db_name}-{timezone.now():%Y%m%d-%H%M%S}-{run_id}.dump"
    code, lines = run_one_off(client, render_backup_task(spec_for(site), filename, run_id), 3600, runner.log)
    if code != 0:
        raise JobFailed("the backup failed, nothing was changed: " + " ".join(lines[-3:]))
    size = next((int(line.split("=", 1)[1]) for line in lines if line.startswith("size=")), 0)
    Backup.objects.create(site=site, job_id=runner.job.pk, filename=filename, size_bytes=size)
    runner.log(f"backup {filename}: {size} bytes in volume {site.slug}_backups on {site.db_node}")
    return {"filename": filename, "size_bytes": size}


@register
class BackupRunner(JobRunner):
    kind = "backup"
    mutating = False  # reads the database while the site serves
    plan = ["Backup"]

    def run(self) -> dict[str, Any]:
        with site_client(self) as client, self.step("Backup"):
            return take_backup(self, client, self.site, f"j{self.job.pk}")


@register
class RestoreRunner(QuietSiteRunner):
    kind = "restore"
    plan = ["Record replicas", "Scale to 0", "Restore", "Restore replicas"]

    def run(self) -> dict[str, Any]:
        site = self.site
        backup = Backup.objects.filter(pk=int(self.params.get("backup_id") or 0), site=site).first()
        if backup is None:
            raise JobFailed("that backup does not exist for this site")
        run_id = f"j{self.job.pk}"
        with site_client(self) as client:
            with self.step("Record replicas"):
                recorded = self.record_replicas(client, site)
            try:
                with self.step("Scale to 0"):
                    self.scale_to_zero(client, recorded)
                with self.step("Restore"):
                    from clusters.deploy import run_one_off

                    task = render_restore_task(spec_for(site), backup.filename, run_id)
                    self.set_compensation("remove_service", service=task.name)
                    code, lines = run_one_off(client, task, 3 * 3600, self.log)
                    self.clear_compensation("remove_service")
            finally:
                with self.step("Restore replicas"):
                    self.restore_replicas(client, recorded)
        if code != 0:
            raise JobFailed("pg_restore failed: " + " ".join(lines[-3:]))
        return {"backup": backup.filename}
