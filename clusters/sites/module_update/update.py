"""The module update, step by step, as one job that never leaves a site down.

    Check     refuse all/base, names that are not plain, modules not installed (`-u` ignores them),
              modules whose manifest change the gate has not approved; refuse transient states
    Record    the replicas of <site>_odoo and <site>_cron, into the Job row (compensation) first
    Backup    pg_dump in a one-off task, kept with its size and time (restorable by a job)
    Scale     both services to 0, and wait until no task runs
    Update    one-off `odoo -d DB -u MODULES --stop-after-init --no-http`, same digest, network,
              mounts and env, restart condition none; its log streamed into the job
    Restore   remove the one-off service and restore the recorded replicas, whatever happened
    Verify    wait healthy; no module left in a `to ...` state

Judged by exit code AND log (clusters.sites.odoo_log). If the worker dies at any step, the reaper runs the
compensation recorded here: restore_replicas_all and remove_service (clusters/sites/client.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, NoReturn

from clusters import swarm_ops as ops
from clusters.approvals.update_check import record_refusals, unapproved_changes, uncovered_changes
from clusters.edge import fallbacks
from clusters.job_client import job_client
from clusters.models import Site
from clusters.sites.backups.backup import take_backup
from clusters.sites.checksums import read_checksums, record_checksums
from clusters.sites.image_gate import manifest_hashes, read_image_addons
from clusters.sites.module_update import policy
from clusters.sites.modules import read_modules
from clusters.sites.odoo_log import Verdict, judge
from clusters.sites.quiet import QuietSiteRunner, one_off_deadline
from clusters.sites.site_spec import spec_for
from clusters.stack import SpecError, service_name
from clusters.stack.render import ServiceSpec, render_update_task
from clusters.stack.spec import validate_modules
from jobs.logs.follow import Follower, service_frames
from jobs.models import Stream
from jobs.runner import JobFailed, JobRunner, register
from panel import notify


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
    blocked = unapproved_changes(site, names)
    if blocked:
        raise JobFailed(f"a manifest change is not approved for: {', '.join(blocked)} (see Manifest changes)")
    return names


def run_followed(
    runner: JobRunner,
    client: Any,
    task: ServiceSpec,
    ended: Callable[[], None] | None = None,
    what: str = "the update task",
) -> tuple[int | None, list[str], float]:
    """Run a one-off `odoo -u` to its end with its log streamed into the job; (exit code, lines, its
    seconds from start to end). Recorded for the reaper (remove_service) while it exists. `ended`
    runs as soon as the task has exited, before the last lines are read and the task removed."""
    ops.remove_service(client, task.name)
    runner.set_compensation("remove_service", service=task.name)
    collected: list[str] = []

    def sink(lines: list[tuple[str, str, Any]]) -> None:
        collected.extend(text for text, _, _ in lines)
        runner.log_lines(lines)

    started = time.monotonic()
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
    seconds = time.monotonic() - started
    if ended is not None:
        ended()
    follower.stop()
    if follower.error or not collected:
        # The stream can miss the last lines of a fast task: read the stored log once more.
        collected = ops.service_logs(client, task.name) or collected
    runner.log(f"{what} ended {state} with exit code {code}" + (f": {message}" if message else ""))
    ops.remove_service(client, task.name)
    runner.clear_compensation("remove_service")
    return code, collected, seconds


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
        with job_client(self) as client:
            with self.step("Check"):
                installed, modules, spec, current = self._check(client, requested, run_id)
            with self.step("Record replicas"), self.refusing():
                recorded = self.record_replicas(client, site)
                Site.objects.filter(pk=site.pk).update(status=Site.Status.UPDATING)
            notify.emit("update.started", site=site, payload=self._notice(modules), subject=self.job.pk)
            backup = None
            if self.params.get("backup", True):
                with self.step("Backup"):
                    backup = take_backup(self, client, site, run_id, kind="pre-update")
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
                    if not verdict.ok:
                        self.step_fails()
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self.restore_step(client, recorded, failure)
                timings["healthy_at"] = time.time()
            with self.step("Verify"):
                web = recorded.get(service_name(site.slug, "odoo"), 0)
                fallbacks.wait_routed(site, web, self.log)  # users served again
                after = read_modules(client, site, run_id, self.log, guard=self)
                stuck = sorted(n for n, (state, _) in after.items() if state.startswith("to "))
                if stuck:
                    self.step_fails()
        result = self._conclude(modules, verdict, after, stuck, backup, timings)
        if not verdict.ok:
            self._fail(verdict)
        if current is not None:
            recorded_sums = record_checksums(site, current, updated | set(modules))
            result["checksums_recorded"] = sorted(set(recorded_sums) & (updated | set(modules)))
        Site.objects.filter(pk=site.pk).update(status=Site.Status.HEALTHY)
        return result

    def _conclude(
        self,
        modules: tuple[str, ...],
        verdict: Verdict,
        after: dict[str, Any],
        stuck: list[str],
        backup: Any,
        timings: dict[str, float],
    ) -> dict[str, Any]:
        """The job's result (a module left in a `to ...` state fails it) and the "update ended"
        notice with the downtime users had."""
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
        ended = {**self._notice(modules), "ok": verdict.ok, "downtime_s": result["downtime_s"]}
        ended["outcome"] = "succeeded" if verdict.ok else "failed"
        notify.emit("update.ended", site=self.site, payload=ended, subject=self.job.pk)
        return result

    def _notice(self, modules: Any) -> dict[str, Any]:
        return {"job_id": self.job.pk, "kind": self.kind, "modules": list(modules)}

    def _check(self, client: Any, requested: list[str], run_id: str) -> tuple[Any, tuple[str, ...], Any, Any]:
        """Step 1: the installed modules, the modules to update, the site's spec, and the addon
        checksums of the image (read while the site still serves: the image, and so its code, does
        not change during the job, and this keeps the read out of the downtime)."""
        site = self.site
        installed = read_modules(client, site, run_id, self.log, guard=self)
        with self.refusing():
            modules = check_request(site, requested, installed, install=self.install)
        spec = spec_for(site)
        if not spec.image_digest:
            raise JobFailed("the site has no pinned digest: deploy it first")
        with self.refusing():
            if not self.install:  # a rehearsal runs `-u` only
                policy.check_in_job(self, modules, spec.image_digest)
            self._check_binding(client, modules, spec, run_id)
        self.log(f"updating {', '.join(modules)} in {site.db_name} on {spec.odoo_image_ref}")
        return installed, modules, spec, self._checksums(client, site, run_id)

    def _check_binding(self, client: Any, modules: tuple[str, ...], spec: Any, run_id: str) -> None:
        """Refuse modules whose approval does not cover this digest and its manifests (gate.binding);
        the image's manifests are read only when a decision on this digest must be compared with them."""

        def image_hashes() -> dict[str, str]:
            self.log("reading the image's manifests to compare them with the approved ones")
            try:
                return manifest_hashes(read_image_addons(client, spec, run_id))
            except ops.Refused as exc:
                raise JobFailed(str(exc)) from exc

        digest = spec.image_digest
        refused = uncovered_changes(self.site, modules, digest, image_hashes)
        if refused:
            actor = self.job.created_by or self.job.created_by_name or "system"
            what = f"{'installing' if self.install else 'updating'} {', '.join(modules)}"
            raise JobFailed(
                record_refusals(refused, digest, actor=actor, job=self.job, site=self.site, what=what)
            )

    def _fail(self, verdict: Verdict) -> NoReturn:
        # Odoo's own ERROR/CRITICAL lines first: they say what broke, the rest is context.
        for line in verdict.error_lines[:20]:
            self.log(line, Stream.STDERR)
        raise JobFailed(
            "\n".join(["the update failed: " + "; ".join(verdict.reasons), *verdict.error_lines[:20]])
        )

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
        code, collected, _ = run_followed(self, client, task, ended)
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
