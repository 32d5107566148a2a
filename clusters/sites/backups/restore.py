"""A restore: the site held at 0 replicas while pg_restore replaces its database with a backup, read where
its row says it was taken (a shared backup root, or the old volume on the database's node)."""

from __future__ import annotations

from typing import Any

from clusters import swarm_ops as ops
from clusters.job_client import job_client
from clusters.models import Backup
from clusters.sites.backups.store import spec_at
from clusters.sites.quiet import QuietSiteRunner, one_off_deadline
from clusters.stack.render import render_restore_task
from jobs.runner import JobFailed, register


@register
class RestoreRunner(QuietSiteRunner):
    kind = "restore"
    plan = ["Record replicas", "Scale to 0", "Restore", "Restore replicas"]

    def run(self) -> dict[str, Any]:
        site = self.site
        backup = Backup.objects.filter(pk=int(self.params.get("backup_id") or 0), site=site).first()
        if backup is None:
            raise JobFailed("that backup does not exist for this site")
        if backup.status != Backup.Status.OK or backup.drill_ok is False:
            why = "failed" if backup.status != Backup.Status.OK else "failed its restore drill"
            raise JobFailed(f"backup {backup.filename} {why}: it is not restored over the database")
        run_id = f"j{self.job.pk}"
        with job_client(self) as client:
            with self.step("Record replicas"), self.refusing():
                recorded = self.record_replicas(client, site)
            failure: BaseException | None = None
            try:
                with self.step("Scale to 0"):
                    self.scale_to_zero(client, recorded)
                with self.step("Restore"):
                    task = render_restore_task(
                        spec_at(site, backup.backup_root), backup.filename, run_id, backup.sha256
                    )
                    self.set_compensation("remove_service", service=task.name)
                    code, lines = ops.run_one_off(client, task, one_off_deadline(), self.log)
                    self.clear_compensation("remove_service")
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self.restore_step(client, recorded, failure)
        if code != 0:
            raise JobFailed("pg_restore failed: " + " ".join(lines[-3:]))
        return {"backup": backup.filename}
