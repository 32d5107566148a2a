"""Jobs and their log lines.

A Job row is the one source of truth about a long action: it is written before anything is enqueued,
claimed by exactly one worker (compare-and-swap on `state`), kept alive by a heartbeat, and ended
either by its runner or by the reaper. What a job must undo if it dies is kept in `compensation`
*in the row*, so that a process that never saw the job (the reaper) can undo it.

The per-site lock is a partial unique index: at most one unfinished mutating job per site. The
database enforces it, so two clicks from two browsers (or two web processes) cannot both win.
"Unfinished" is `finished_at IS NULL`, not `state in (queued, running)`: a job that failed is still
holding its site while its compensation runs (restoring replicas), and a new job must wait for that.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Kind(models.TextChoices):
    """Every kind of job a runner is registered for (a test holds the two to the same list)."""

    DEPLOY = "deploy", "Deploy"
    RECONCILE = "reconcile", "Reconcile"
    DOMAIN = "domain", "Domain change"
    SCALE = "scale", "Scale"
    READ_MODULES = "read_modules", "Read modules"
    MODULE_UPDATE = "module_update", "Module update"
    MODULE_INSTALL = "module_install", "Module install"
    BACKUP = "backup", "Backup"
    RESTORE = "restore", "Restore"
    EDGE_DEPLOY = "edge_deploy", "Edge deploy"
    REHEARSAL = "rehearsal", "Rehearsal"
    DRILL = "drill", "Restore drill"


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATES = (State.QUEUED, State.RUNNING)
ENDED_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)


class Stream(models.TextChoices):
    STDOUT = "stdout", "stdout"
    STDERR = "stderr", "stderr"
    SYSTEM = "system", "system"


class JobQuerySet(models.QuerySet["Job"]):
    def active(self) -> JobQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def unfinished(self) -> JobQuerySet:
        return self.filter(finished_at__isnull=True)

    def blocking_site(self, site_id: int) -> JobQuerySet:
        """The job that holds a site's lock (at most one, by the partial unique index)."""
        return self.unfinished().filter(site_id=site_id, mutating=True)


class Job(models.Model):
    kind = models.CharField(max_length=40, choices=Kind.choices, db_index=True)
    # Whether the job changes its site; only these take the per-site lock. Copied from the runner
    # class at creation so that the index condition is a plain column.
    mutating = models.BooleanField(default=True)
    site = models.ForeignKey(
        "clusters.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    site_slug = models.CharField(max_length=63, blank=True, help_text="Kept if the site is deleted.")
    cluster = models.ForeignKey(
        "clusters.Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True, help_text="Kept if the user is deleted.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Set last, once the log is complete and compensation has run: viewers stop at it, and it
    # releases the site's lock.
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="Host name of the worker that ran it.")
    worker_pid = models.PositiveIntegerField(null=True, blank=True)

    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by_name = models.CharField(max_length=150, blank=True)

    # A list of {"action": name, "args": {...}}, undone last-first; see jobs/compensation.py.
    # A list, not a dict: PostgreSQL's jsonb does not keep key order, and undo order matters.
    compensation = models.JSONField(default=list, blank=True)
    # Set once nothing is owed any more. While the actions run, the claim names who runs them and
    # is refreshed like a heartbeat; a stale one is taken over by the reaper.
    compensated_at = models.DateTimeField(null=True, blank=True)
    compensation_claimed_at = models.DateTimeField(null=True, blank=True)
    compensation_claimed_by = models.CharField(max_length=255, blank=True)
    compensation_result = models.JSONField(default=list, blank=True)

    # The timeline: [{"name", "state", "started_at", "finished_at"}]; see JobRunner.step().
    steps = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat"),
            models.Index(fields=["site", "-created_at"], name="job_site_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(finished_at__isnull=True, mutating=True, site__isnull=False),
                name="one_active_mutating_job_per_site",
            ),
            # Two deploys of one cluster's edge would race on its Traefik service (update out of sequence).
            models.UniqueConstraint(
                fields=["cluster"],
                condition=Q(finished_at__isnull=True, kind="edge_deploy"),
                name="one_active_edge_deploy_per_cluster",
            ),
        ]

    def __str__(self) -> str:
        target = f" {self.site_slug}" if self.site_slug else ""
        return f"{self.get_kind_display()}{target} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("job-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.finished_at is None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def current_step(self) -> dict[str, Any] | None:
        return next((s for s in reversed(self.steps) if s.get("state") == "running"), None)


class JobLogLine(models.Model):
    """One line of a job's log. `seq` counts from 1 without gaps per job; viewers use it as a cursor."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="lines")
    seq = models.PositiveBigIntegerField()
    time = models.DateTimeField()
    stream = models.CharField(max_length=6, choices=Stream.choices, default=Stream.STDOUT)
    text = models.TextField()

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="job_log_line_seq")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.seq} {self.text[:60]}"
