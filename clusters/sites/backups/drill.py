"""A restore drill: prove a backup restorable. A one-off task on the database's node restores it into a
scratch database of the site's own server, reads what the backup read when it was taken (installed
modules, row counts of core tables) and drops the scratch database whatever happens; the panel compares
the two and marks the backup "restorable, proven at <time>", or failed with the reason."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters.job_client import job_client
from clusters.models import Backup
from clusters.sites.backups.backup import read_backup_lines
from clusters.sites.backups.store import spec_at
from clusters.sites.modules import run_db_reader
from clusters.sites.quiet import one_off_deadline
from clusters.stack.backup_tasks import render_drill_task
from jobs.models import Job
from jobs.runner import JobFailed, JobRunner, register


def compare(backup: Backup, restored: dict[str, Any]) -> list[str]:
    """Why the restored database is not what the backup recorded (empty: it is)."""
    reasons: list[str] = []
    recorded, found = backup.modules or {}, restored.get("modules", {})
    if not found:
        reasons.append("no installed module in the restored database")
    missing = sorted(set(recorded) - set(found))
    extra = sorted(set(found) - set(recorded))
    changed = sorted(m for m in set(recorded) & set(found) if recorded[m] != found[m])
    if recorded and missing:
        reasons.append(f"modules installed at backup time but not restored: {', '.join(missing)}")
    if recorded and extra:
        reasons.append(f"modules restored that were not installed at backup time: {', '.join(extra)}")
    if changed:
        reasons.append(
            f"module versions differ: {', '.join(f'{m} {recorded[m]} -> {found[m]}' for m in changed)}"
        )
    counts = restored.get("row_counts", {})
    for table, rows in sorted((backup.row_counts or {}).items()):
        if counts.get(table) != rows:
            reasons.append(f"{table}: {counts.get(table, 'no table')} rows restored, {rows} at backup time")
    return reasons


def chosen_backup(site: Any, backup_id: Any) -> Backup:
    """The backup asked for, or the newest good one; JobFailed (a refusal) when there is none."""
    if backup_id:
        backup = Backup.objects.filter(pk=int(backup_id), site=site).first()
        if backup is None:
            raise JobFailed(f"no backup {backup_id} of {site.slug}")
        if backup.status != Backup.Status.OK:
            raise JobFailed(f"backup {backup.pk} failed when it was taken: there is nothing to drill")
        return backup
    backup = Backup.objects.filter(site=site, status=Backup.Status.OK).first()
    if backup is None:
        raise JobFailed(f"{site.slug} has no good backup to drill")
    return backup


@register
class DrillRunner(JobRunner):
    kind = "drill"
    mutating = False  # the site's own database is only read (by pg_dump, earlier): it serves throughout
    plan = ["Restore into a scratch database", "Compare"]

    def run(self) -> dict[str, Any]:
        site = self.site
        try:
            backup = chosen_backup(site, self.params.get("backup_id"))
            other = Job.objects.unfinished().filter(site=site, kind=self.kind).exclude(pk=self.job.pk).first()
            if other is not None:  # both would restore into the one scratch database
                raise JobFailed(f"another drill of {site.slug} is running (job #{other.pk})")
        except JobFailed as exc:
            self.job.result = {"refused": str(exc)}
            raise
        self.job.result = {"backup_id": backup.pk, "filename": backup.filename}
        with job_client(self) as client, self.step("Restore into a scratch database"):
            archive = (
                (backup.filestore_filename, backup.filestore_sha256) if backup.filestore_filename else None
            )
            task = render_drill_task(
                spec_at(site, backup.backup_root),
                backup.filename,
                backup.sha256,
                f"j{self.job.pk}",
                archive=archive,
            )
            code, lines = run_db_reader(
                client, task, one_off_deadline(), log=self.log, guard=self, show_lines=True, what="the drill"
            )
            if code != 0:
                self.step_fails()
        with self.step("Compare"):
            said = [line.strip()[len("drill: ") :] for line in lines if line.strip().startswith("drill: ")]
            reasons = said or (
                [f"the drill task ended with exit code {code}: {' '.join(lines[-3:])}"] if code else []
            )
            reasons = reasons or compare(backup, read_backup_lines(lines))
            if reasons:
                self.step_fails()
        return self._mark(backup, reasons)

    def _mark(self, backup: Backup, reasons: list[str]) -> dict[str, Any]:
        now = timezone.now()
        verdict = "; ".join(reasons) if reasons else f"restorable, proven at {now:%Y-%m-%d %H:%M:%S %Z}"
        Backup.objects.filter(pk=backup.pk).update(drilled_at=now, drill_ok=not reasons, drill_result=verdict)
        result = {
            "ok": not reasons,
            "backup_id": backup.pk,
            "filename": backup.filename,
            "drilled_at": now.isoformat(),
            "drill_result": verdict,
            "reasons": reasons,
        }
        self.job.result = result
        self.log(f"drill of {backup.filename}: {verdict}")
        if reasons:
            raise JobFailed(f"the drill of {backup.filename} failed: {verdict}")
        return result
