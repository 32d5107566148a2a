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

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.checksums import read_checksums, record_checksums
from clusters.models import Backup, Site
from clusters.runners import read_modules, run_db_reader, site_client
from clusters.site_spec import spec_for
from clusters.stack import SpecError
from clusters.stack.render import render_backup_task, render_restore_task, render_update_task
from clusters.stack.spec import validate_modules
from jobs.dockerlogs import Follower, service_frames
from jobs.models import Job, State, Stream
from jobs.odoo_log import Verdict, judge
from jobs.runner import JobFailed, JobRunner, register

STOP_DEADLINE_S = 300
HEALTHY_DEADLINE_S = 900


def one_off_deadline() -> float:
    """How long `odoo -u` (or a restore) may run: what the job's Celery soft time limit leaves once
    the stop, the restart and a margin for the backup are set aside. Past the soft limit Celery
    would interrupt the job in the middle of the update; this deadline ends it first, cleanly."""
    from django.conf import settings

    reserved = STOP_DEADLINE_S + HEALTHY_DEADLINE_S + 600
    return max(600.0, float(settings.CELERY_TASK_SOFT_TIME_LIMIT) - reserved)


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

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """A refusal (bad request, unapproved change, an undo still owed) is recorded as such in
        the result, before anything changed: `site update --wait` exits 2 on it, not 1."""
        try:
            yield
        except JobFailed as exc:
            self.job.result = {"refused": str(exc)}
            raise

    def record_replicas(self, client: Any, site: Site) -> dict[str, int]:
        earlier = pending_undo(site, self.job.pk)
        if earlier is not None:
            # Its site may still be at 0 replicas: recording now would record 0 and "restore" 0.
            raise JobFailed(
                f"{earlier} has not finished undoing its changes (replicas not restored yet, the "
                "engine may have been unreachable); it is retried on every reaper pass. Try again "
                "once it is done."
            )
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
        self.show_running(0)
        self.log("no Odoo task runs: the database is free")

    def show_running(self, count: int) -> None:
        """The site's running Odoo replicas as this job sees them, for the job and site pages
        (drift checks, which set it otherwise, leave a site alone while a job holds it)."""
        Site.objects.filter(pk=self.site.pk).update(running_replicas=count)

    def restore_replicas(self, client: Any, recorded: dict[str, int]) -> None:
        since = timezone.now()
        for name, replicas in recorded.items():
            ops.scale(client, name, replicas)
        for name in recorded:
            ops.wait_converged(client, name, since=since, deadline_s=HEALTHY_DEADLINE_S, log=self.log)
        self.show_running(recorded.get(f"{self.site.slug}_odoo", 0))
        self.clear_compensation("restore_replicas_all")
        self.log("replicas restored: " + ", ".join(f"{n}={r}" for n, r in recorded.items()))

    def scale_back(self, client: Any, recorded: dict[str, int]) -> None:
        """Send the recorded replica counts (no wait; restore_replicas waits for them)."""
        for name, replicas in recorded.items():
            ops.scale(client, name, replicas)
        self.log(
            "the database is free: replicas coming back ("
            + ", ".join(f"{n}={r}" for n, r in recorded.items())
            + ")"
        )

    def restore_step(self, client: Any, recorded: dict[str, int], failure: BaseException | None) -> None:
        """The "Restore replicas" step, run whatever happened before it.

        When the job is already failing (e.g. the engine was lost during Update) and the restore
        fails too, the first error is the one the job reports: the restore's own error is logged,
        and the recorded replicas stay in the compensation, which is retried until it succeeds."""
        try:
            with self.step("Restore replicas"):
                self.restore_replicas(client, recorded)
        except Exception as exc:
            if failure is None:
                raise
            self.log(
                f"the replicas could not be restored now ({type(exc).__name__}: {exc}); "
                "the compensation restores them",
                Stream.STDERR,
            )


def pending_undo(site: Site, job_id: int) -> Job | None:
    """An ended job on this site whose compensation has not succeeded yet (jobs/compensation.py)."""
    return (
        Job.objects.filter(site=site, state__in=(State.FAILED, State.CANCELLED), compensated_at__isnull=True)
        .exclude(compensation=[])
        .exclude(pk=job_id)
        .order_by("created_at")
        .first()
    )


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
                installed = read_modules(client, site, run_id, self.log, guard=self)
                with self.refusing():
                    modules = check_request(site, requested, installed, install=self.install)
                spec = spec_for(site)
                if not spec.image_digest:
                    raise JobFailed("the site has no pinned digest: deploy it first")
                self.log(f"updating {', '.join(modules)} in {site.db_name} on {spec.odoo_image_ref}")
                # Read while the site still serves: the image (and so its code) does not change
                # during the job, and this keeps the read out of the downtime.
                current = self._checksums(client, site, run_id)
            with self.step("Record replicas"), self.refusing():
                recorded = self.record_replicas(client, site)
                Site.objects.filter(pk=site.pk).update(status=Site.Status.UPDATING)
            backup = None
            if self.params.get("backup", True):
                with self.step("Backup"):
                    backup = take_backup(self, client, site, run_id)
            failure: BaseException | None = None
            try:
                with self.step("Scale to 0"):
                    self.scale_to_zero(client, recorded)
                    timings["stopped_at"] = time.time()
                with self.step("Update"):
                    verdict, updated = self._update(
                        client,
                        spec,
                        modules,
                        run_id,
                        ended=lambda: self.scale_back(client, recorded),
                        installed_before={n for n, (state, _) in installed.items() if state == "installed"},
                    )
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self.restore_step(client, recorded, failure)
                timings["healthy_at"] = time.time()
            with self.step("Verify"):
                after = read_modules(client, site, run_id, self.log, guard=self)
                stuck = sorted(n for n, (state, _) in after.items() if state.startswith("to "))
        failed_step = "Update" if not verdict.ok else "Verify"
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
            self._mark_failed(failed_step)
            # Odoo's own ERROR/CRITICAL lines first: they say what broke, the rest is context.
            for line in verdict.error_lines[:20]:
                self.log(line, Stream.STDERR)
            raise JobFailed(
                "\n".join(["the update failed: " + "; ".join(verdict.reasons), *verdict.error_lines[:20]])
            )
        if current is not None:
            recorded_sums = record_checksums(site, current, updated | set(modules))
            result["checksums_recorded"] = sorted(set(recorded_sums) & (updated | set(modules)))
        Site.objects.filter(pk=site.pk).update(status=Site.Status.HEALTHY)
        return result

    def _mark_failed(self, name: str) -> None:
        """The step whose outcome failed the job, shown failed on the timeline (the job went on
        to restore and verify, so the step itself ended without raising)."""
        for entry in self.job.steps:
            if entry["name"] == name:
                entry["state"] = "failed"
        self._save_steps()

    def _finish(self, state: str, result: Any, error: str) -> str:
        # A failed update keeps its verdict (exit code, vanished modules, error lines) as result.
        return super()._finish(state, result if result is not None else self.job.result, error)

    def _checksums(self, client: Any, site: Site, run_id: str) -> dict[str, str] | None:
        """Advisory (they feed the "changed modules" offer): a failure is logged, never fatal."""
        try:
            return read_checksums(client, site, run_id, self.log, guard=self)
        except (RuntimeError, ValueError, ops.SwarmError) as exc:
            self.log(f"addon checksums not read: {exc}", Stream.STDERR)
            return None

    def _update(
        self,
        client: Any,
        spec: Any,
        modules: tuple[str, ...],
        run_id: str,
        ended: Callable[[], None],
        installed_before: set[str],
    ) -> tuple[Verdict, set[str]]:
        """The one-off `odoo -u`; its verdict, and the modules Odoo says it updated. An update
        that installs modules nobody asked for fails, naming them (`-i` installs by design).

        `ended` is called as soon as the task has exited: the database is free, so the replicas
        come back while its last log lines are read and the task removed (the site's downtime
        does not wait for the bookkeeping). If the task may still run (a deadline, the engine
        lost), it is removed first: replicas must never start next to a running `odoo -u`."""
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
            state, code, message = ops.wait_one_off(client, task.name, one_off_deadline())
        except BaseException:
            follower.stop(quiet=0)
            with contextlib.suppress(Exception):  # the engine may be gone: then the reaper removes it
                ops.remove_service(client, task.name)
            raise
        ended()
        follower.stop()
        if follower.error or not collected:
            # The stream can miss the last lines of a fast task: read the stored log once more.
            collected = ops.service_logs(client, task.name) or collected
        self.log(f"the update task ended {state} with exit code {code}" + (f": {message}" if message else ""))
        ops.remove_service(client, task.name)
        self.clear_compensation("remove_service")
        if self.install:  # `-i` installs by design: nothing is "installed unasked"
            verdict = judge(code, collected)
        else:
            verdict = judge(code, collected, modules=modules, installed_before=installed_before)
        return verdict, set(verdict.updated)


@register
class ModuleInstallRunner(ModuleUpdateRunner):
    """The same safe sequence with `-i`, for modules not installed yet."""

    kind = "module_install"
    install = True


def take_backup(runner: JobRunner, client: Any, site: Site, run_id: str) -> dict[str, Any]:
    """pg_dump by a one-off task into the site's backup volume, kept with its size and time."""
    filename = f"{site.db_name}-{timezone.now():%Y%m%d-%H%M%S}-{run_id}.dump"
    task = render_backup_task(spec_for(site), filename, run_id)
    code, lines = run_db_reader(
        client, task, 3600, log=runner.log, guard=runner, show_lines=True, what="the backup"
    )
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
            with self.step("Record replicas"), self.refusing():
                recorded = self.record_replicas(client, site)
            failure: BaseException | None = None
            try:
                with self.step("Scale to 0"):
                    self.scale_to_zero(client, recorded)
                with self.step("Restore"):
                    from clusters.deploy import run_one_off

                    task = render_restore_task(spec_for(site), backup.filename, run_id)
                    self.set_compensation("remove_service", service=task.name)
                    code, lines = run_one_off(client, task, one_off_deadline(), self.log)
                    self.clear_compensation("remove_service")
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self.restore_step(client, recorded, failure)
        if code != 0:
            raise JobFailed("pg_restore failed: " + " ".join(lines[-3:]))
        return {"backup": backup.filename}
