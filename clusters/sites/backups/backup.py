"""A backup: pg_dump and a tar of the filestore by a one-off task into the site's folder under its
cluster's backup root (store.py), run on the database's node, kept with what a restore drill checks it
against; then the retention (retention.py)."""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from clusters.job_client import job_client
from clusters.models import Backup, Site
from clusters.sites.backups.retention import Policy, Taken, backups_to_keep
from clusters.sites.backups.store import current_root, described, spec_at
from clusters.sites.modules import run_db_reader
from clusters.stack.backup_tasks import filestore_archive_name, render_backup_task, render_prune_task
from jobs.models import Job
from jobs.runner import JobFailed, JobRunner, register


def read_backup_lines(lines: list[str]) -> dict[str, Any]:
    """The facts a backup (or a drill) task prints: modules, row counts, sizes and checksums."""
    facts: dict[str, Any] = {"modules": {}, "row_counts": {}}
    for line in lines:
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[0] == "module":
            facts["modules"][parts[1]] = parts[2]
        elif len(parts) == 3 and parts[0] == "count" and parts[2].isdigit():
            facts["row_counts"][parts[1]] = int(parts[2])
        key, eq, value = line.strip().partition("=")
        if eq and key in ("size", "sha256", "filestore_size", "filestore_sha256"):
            facts[key] = int(value) if key.endswith("size") and value.isdigit() else value
    return facts


def take_backup(
    runner: JobRunner, client: Any, site: Site, run_id: str, kind: str = Backup.Kind.MANUAL
) -> dict[str, Any]:
    """Dump and archive by a one-off task; the row is kept failed (with why) when it fails."""
    filename = f"{site.db_name}-{timezone.now():%Y%m%d-%H%M%S}-{run_id}.dump"
    root = current_root(site)
    spec = spec_at(site, root)
    task = render_backup_task(spec, filename, run_id)
    started = time.monotonic()
    code, lines = run_db_reader(
        client, task, 3600, log=runner.log, guard=runner, show_lines=True, what="the backup"
    )
    facts = read_backup_lines(lines)
    backup = Backup(
        site=site,
        job_id=runner.job.pk,
        kind=kind,
        filename=filename,
        backup_root=root,
        duration_s=round(time.monotonic() - started, 2),
        digest=site.image_digest,
    )
    if code != 0:
        backup.status, backup.error = Backup.Status.FAILED, " ".join(lines[-3:])[:2000]
        backup.save()
        raise JobFailed("the backup failed, nothing was changed: " + backup.error)
    backup.size_bytes, backup.sha256 = facts.get("size", 0), facts.get("sha256", "")
    backup.modules, backup.row_counts = facts["modules"], facts["row_counts"]
    backup.filestore_filename = filestore_archive_name(filename) if "filestore_sha256" in facts else ""
    backup.filestore_size_bytes = facts.get("filestore_size", 0)
    backup.filestore_sha256 = facts.get("filestore_sha256", "")
    backup.save()
    runner.log(
        f"backup {filename}: {backup.size_bytes} bytes (sha256 {backup.sha256[:12]}), filestore "
        f"{backup.filestore_size_bytes} bytes, in {described(spec)}"
    )
    return {"id": backup.pk, "filename": filename, "size_bytes": backup.size_bytes, "kind": kind}


def _being_read(site: Site) -> set[int]:
    """The backups an unfinished drill or restore of the site reads."""
    reading = Job.objects.unfinished().filter(site=site, kind__in=("drill", "restore"))
    return {int(p.get("backup_id") or 0) for p in reading.values_list("params", flat=True)}


def apply_retention(runner: JobRunner, client: Any, site: Site, run_id: str) -> list[int]:
    """Delete the files, then the rows, of the backups outside the kept set; returns their ids. A backup
    a drill or a restore is reading is kept for now; a failed delete leaves the rows for the next pass."""
    rows = list(Backup.objects.filter(site=site))
    policy = Policy(site.backup_keep_daily, site.backup_keep_weekly, site.backup_keep_monthly)
    # A backup its drill proved unrestorable is not "good": it must not hold the newest-good slot.
    taken = [
        Taken(b.pk, b.created_at, b.status == Backup.Status.OK and b.drill_ok is not False, b.kind)
        for b in rows
    ]
    keep = backups_to_keep(taken, policy, timezone.now(), local=timezone.localtime) | _being_read(site)
    doomed = [b for b in rows if b.pk not in keep]
    if not doomed:
        runner.log(f"retention: all {len(rows)} backups are kept")
        return []
    deleted: list[Backup] = []
    for number, root in enumerate(sorted({b.backup_root for b in doomed})):  # each where it was taken
        reading = _being_read(site)  # again, just before the files go: a restore may have started
        here = [b for b in doomed if b.backup_root == root and b.pk not in reading]
        if not here:
            continue
        task = render_prune_task(
            spec_at(site, root), [n for b in here for n in b.files], f"{run_id}p{number}"
        )
        code, lines = run_db_reader(
            client, task, 600, log=runner.log, guard=runner, what="deleting old backups"
        )
        if code != 0:
            runner.log(
                f"retention: deleting old backups failed, kept for the next pass: {' '.join(lines[-3:])}"
            )
            continue
        Backup.objects.filter(pk__in=[b.pk for b in here]).delete()
        deleted += here
    if deleted:
        runner.log(f"retention: deleted {len(deleted)} backups ({', '.join(b.filename for b in deleted)})")
    return [b.pk for b in deleted]


@register
class BackupRunner(JobRunner):
    kind = "backup"
    mutating = False  # reads the database while the site serves
    plan = ["Backup", "Retention"]

    def run(self) -> dict[str, Any]:
        kind = self.params.get("backup_kind") or Backup.Kind.MANUAL
        if kind not in (Backup.Kind.SCHEDULED, Backup.Kind.MANUAL):
            raise JobFailed(f"backup kind {kind!r}: scheduled or manual")
        run_id = f"j{self.job.pk}"
        with job_client(self) as client:
            with self.step("Backup"):
                result = take_backup(self, client, self.site, run_id, kind=kind)
            with self.step("Retention"):
                result["deleted"] = apply_retention(self, client, self.site, run_id)
        return result
