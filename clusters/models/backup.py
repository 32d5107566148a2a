"""A backup of a site (issue 18): the database dump and the filestore archive beside it in the site's
folder under its cluster's backup root (or, before backup roots, its volume on the database node), with
what a restore drill needs to prove it (the checksums, the
modules and the row counts of a few core tables, all read in the dump's own snapshot)."""

from __future__ import annotations

from typing import Any

from django.db import models

from clusters.models.core import Site


class Backup(models.Model):
    """A pg_dump (custom format) of a site's database and a tar of its filestore, and their drill."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Manual"
        PRE_UPDATE = "pre-update", "Before a module update"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="backups")
    job_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MANUAL, db_default="manual")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK, db_default="ok")
    error = models.TextField(blank=True, default="", db_default="")
    filename = models.CharField(max_length=200)
    # The cluster's backup root when it was taken (clusters/stack/backup_store.py); its files are in
    # `<root>/<slug>/`. Blank: the site's node-local volume `<slug>_backups` on its database node,
    # where every backup from before backup roots is (a restore or drill of one still reads it there).
    backup_root = models.CharField(max_length=255, blank=True, default="", db_default="")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    duration_s = models.FloatField(null=True, blank=True)
    digest = models.CharField(max_length=80, blank=True, default="", db_default="")  # the site's image
    modules = models.JSONField(default=dict, blank=True, db_default={})  # installed: name -> version
    row_counts = models.JSONField(default=dict, blank=True, db_default={})  # core table -> rows
    filestore_filename = models.CharField(max_length=200, blank=True, default="", db_default="")
    filestore_size_bytes = models.BigIntegerField(default=0, db_default=0)
    filestore_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    drilled_at = models.DateTimeField(null=True, blank=True)
    drill_ok = models.BooleanField(null=True, blank=True)  # None: never drilled
    drill_result = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="backup_site_recent")]

    def __str__(self) -> str:
        return f"{self.site.slug}/{self.filename}"

    @property
    def files(self) -> list[str]:
        """The files of this backup in the site's backup folder."""
        return [name for name in (self.filename, self.filestore_filename) if name]

    @property
    def drill_summary(self) -> str:
        """What the page shows: never drilled, restorable (proven when), or why the drill failed."""
        if self.drilled_at is None:
            return "never drilled"
        if self.drill_ok:
            return f"restorable, proven at {self.drilled_at:%Y-%m-%d %H:%M}"
        return f"drill failed at {self.drilled_at:%Y-%m-%d %H:%M}: {self.drill_result}"

    def as_dict(self) -> dict[str, Any]:
        """The row as `site backups --json` prints it."""
        return {
            "id": self.pk,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "duration_s": self.duration_s,
            "digest": self.digest,
            "status": self.status,
            "drilled_at": self.drilled_at.isoformat() if self.drilled_at else None,
            "drill_result": self.drill_result,
            "drill_ok": self.drill_ok,
            "filename": self.filename,
            "backup_root": self.backup_root,
            "filestore": {
                "filename": self.filestore_filename,
                "size_bytes": self.filestore_size_bytes,
                "sha256": self.filestore_sha256,
            },
            "modules": self.modules,
            "row_counts": self.row_counts,
            "error": self.error,
            "job_id": self.job_id,
        }
