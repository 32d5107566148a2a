"""`site backup|backups|drill|restore`: the Backups section's buttons, for automation (a part of the
`site` command, kept here so that each module stays readable).

    manage.py site backup acme [--wait]                     # 0 taken, 1 failed
    manage.py site backups acme --json     # newest first: [{"id", "kind", "created_at", "size_bytes",
                                           #   "sha256", "duration_s", "digest", "status", "drilled_at",
                                           #   "drill_result", ...}]
    manage.py site drill acme [--backup ID] --wait --json   # 0 restorable, 1 failed, 2 refused
    manage.py site restore acme --backup ID --yes [--wait]  # replaces the database: changes since are lost
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from clusters.management.jobstart import start_job
from clusters.management.lookups import site_named
from clusters.models import Backup
from panel.cli import REFUSED, confirmed

PERMISSIONS = {"backup": "operate", "backups": "view", "drill": "operate", "restore": "operate"}


def add_backup_parsers(sub: Any) -> None:
    backup = sub.add_parser("backup", help="back up the site's database and filestore now (a job)")
    backup.add_argument("slug")
    backup.add_argument("--wait", action="store_true")
    backups = sub.add_parser("backups", help="the site's backups, newest first")
    backups.add_argument("slug")
    backups.add_argument("--json", action="store_true", dest="as_json")
    drill = sub.add_parser("drill", help="prove a backup restorable in a scratch database (a job)")
    drill.add_argument("slug")
    drill.add_argument("--backup", type=int, metavar="ID", help="default: the newest good backup")
    drill.add_argument("--wait", action="store_true")
    drill.add_argument("--json", action="store_true", dest="as_json", help="print the job's result")
    restore = sub.add_parser("restore", help="replace the site's database by a backup (a job)")
    restore.add_argument("slug")
    restore.add_argument("--backup", type=int, required=True, metavar="ID", help="from `site backups`")
    restore.add_argument("--yes", action="store_true", help="confirm: changes since the backup are lost")
    restore.add_argument("--wait", action="store_true")


class BackupCommands:
    """The `do_<subcommand>` methods of the backup subcommands (mixed into the `site` command)."""

    stdout: Any
    stderr: Any

    def do_backup(self, slug: str, wait: bool, **_: Any) -> None:
        site = site_named(slug)
        start_job(self.stdout, "backup", wait, what=slug, site=site, backup_kind=Backup.Kind.MANUAL)

    def do_backups(self, slug: str, as_json: bool, **_: Any) -> None:
        rows = [b.as_dict() for b in Backup.objects.filter(site=site_named(slug))]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            drill = (r["drill_result"] or "never drilled")[:60]
            self.stdout.write(
                f"{r['id']:>6}  {r['created_at'][:19]}  {r['kind']:<10} {r['status']:<6} "
                f"{r['size_bytes']:>12}  {r['filename']}  {drill}"
            )

    def do_drill(self, slug: str, backup: int | None, wait: bool, as_json: bool, **_: Any) -> None:
        """With --json, stdout holds the result alone (the log goes to stderr), whatever the exit code."""
        site = site_named(slug)
        found = Backup.objects.filter(site=site, status=Backup.Status.OK)
        found = found.filter(pk=backup) if backup is not None else found
        chosen = found.first()
        if chosen is None:
            what = (
                f"no good backup {backup} of {slug}" if backup is not None else f"{slug} has no good backup"
            )
            raise CommandError(f"{what}; `site backups {slug}` lists them", returncode=REFUSED)
        out, show = (self.stderr, self._print_drill) if as_json else (self.stdout, None)
        start_job(out, "drill", wait, what=slug, site=site, show=show, backup_id=chosen.pk)

    def _print_drill(self, job: Any) -> None:
        self.stdout.write(json.dumps(job.result or {"job": job.pk}))

    def do_restore(self, slug: str, backup: int, yes: bool, wait: bool, **_: Any) -> None:
        site = site_named(slug)
        found = Backup.objects.filter(pk=backup, site=site).first()
        if found is None:
            raise CommandError(
                f"no backup {backup} of {slug}; `site backups {slug}` lists them", returncode=REFUSED
            )
        confirmed(yes, f"site restore {slug} (its database is replaced by {found.filename})")
        start_job(self.stdout, "restore", wait, what=slug, site=site, backup_id=found.pk)
