"""A backup: pg_dump by a one-off task into the site's backup volume, on the database's node."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters.job_client import job_client
from clusters.models import Backup, Site
from clusters.sites.modules import run_db_reader
from clusters.sites.site_spec import spec_for
from clusters.stack.render import render_backup_task
from jobs.runner import JobFailed, JobRunner, register


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
        with job_client(self) as client, self.step("Backup"):
            return take_backup(self, client, self.site, f"j{self.job.pk}")
