"""One mutating job per site (and one deploy of each cluster's edge), enforced by the database.

The lock is the partial unique index `one_active_mutating_job_per_site` (jobs/models.py): inserting
a second unfinished mutating job for a site fails inside the database, whichever process, thread or
browser tried, and however close together. A cache lock would be a second source of truth that can
expire or be flushed; the index cannot disagree with the rows. This module turns the integrity
error into `JobAlreadyRunning`, carrying the job that holds the site so the UI can link to it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from jobs.models import Job, Kind


class JobAlreadyRunning(Exception):
    def __init__(self, job: Job | None, site: Any) -> None:
        self.job = job
        self.site = site
        if job is not None:
            who = f" by {job.created_by_name}" if job.created_by_name else ""
            message = f"{job} is already {job.get_state_display().lower()} on {site}{who}"
        else:
            message = f"another job on {site} was running a moment ago; try again"
        super().__init__(message)


def holder(site_id: int) -> Job | None:
    """The unfinished mutating job holding a site, if any."""
    return Job.objects.blocking_site(site_id).select_related("site").first()


def create_exclusive(fields: dict[str, Any]) -> Job:
    """Insert a Job row; for a mutating job on a site, only if no other holds that site; for an edge
    deploy, only if none of that cluster's edge is unfinished."""
    site, cluster = fields.get("site"), fields.get("cluster")
    try:
        # A savepoint, so that a caller's own transaction survives the failed insert.
        with transaction.atomic():
            return Job.objects.create(**fields)
    except IntegrityError:
        if fields.get("kind") == Kind.EDGE_DEPLOY and cluster is not None:
            edge_holder = Job.objects.unfinished().filter(cluster=cluster, kind=Kind.EDGE_DEPLOY).first()
            raise JobAlreadyRunning(edge_holder, cluster) from None
        if site is None or not fields.get("mutating", True):
            raise
        raise JobAlreadyRunning(holder(site.pk), site) from None
