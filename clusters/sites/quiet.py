"""Jobs that need the site's database to themselves (module update, restore): record the replicas,
scale the site to 0, do the work, and restore the replicas whatever happened.

The recorded replicas are written to the Job row (compensation) before anything changes, so that
whoever ends the job, its runner or the reaper after the worker died, scales the site back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.edge import fallbacks
from clusters.models import Site
from clusters.stack import service_name
from jobs.models import Job, State, Stream
from jobs.runner import JobFailed, JobRunner

STOP_DEADLINE_S = 300
HEALTHY_DEADLINE_S = 900


def one_off_deadline() -> float:
    """How long `odoo -u` (or a restore) may run: what the job's Celery soft time limit leaves once
    the stop, the restart and a margin for the backup are set aside. Past the soft limit Celery
    would interrupt the job in the middle of the update; this deadline ends it first, cleanly."""
    reserved = STOP_DEADLINE_S + HEALTHY_DEADLINE_S + 600
    return max(600.0, float(settings.CELERY_TASK_SOFT_TIME_LIMIT) - reserved)


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
        for name in (service_name(site.slug, "odoo"), service_name(site.slug, "cron")):
            service = ops.find_service(client, name)
            if service is None:
                raise JobFailed(f"{name} does not exist: deploy the site first")
            recorded[name] = ops.replicas_of(service) or 0
        # Written to the Job row before anything changes: whoever ends this job restores them.
        self.set_compensation("restore_replicas_all", services=recorded)
        self.log("recorded replicas: " + ", ".join(f"{n}={r}" for n, r in recorded.items()))
        return recorded

    def scale_to_zero(self, client: Any, recorded: dict[str, int]) -> None:
        fallbacks.refresh(client, self.site.cluster, self.log)  # the edge's page says what is happening
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
        self.show_running(recorded.get(service_name(self.site.slug, "odoo"), 0))
        self.clear_compensation("restore_replicas_all")
        self.log("replicas restored: " + ", ".join(f"{n}={r}" for n, r in recorded.items()))
        fallbacks.refresh(client, self.site.cluster, self.log, released=self.site.pk)

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
