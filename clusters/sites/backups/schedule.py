"""What beat starts every hour (clusters.tasks.backups_tick): a scheduled backup of every deployed site
whose last good scheduled backup is older than its interval, and a restore drill of a site's newest good
backup when none of its backups was drilled within DRILL_EVERY_DAYS (weekly by default; 0: never).

Both take `now` so that a test can move the clock instead of waiting a day. A site whose backup or drill
job is still unfinished gets no second one; a job that cannot start (a race with a button) is skipped
until the next tick.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from clusters.models import Backup, Site
from jobs import control
from jobs.locks import JobAlreadyRunning
from jobs.models import Job

log = logging.getLogger(__name__)


def _deployed() -> list[Site]:
    sites = Site.objects.exclude(image_digest="").exclude(status=Site.Status.NEW)
    return list(sites.select_related("cluster"))


def _busy(site: Site, kind: str) -> bool:
    return Job.objects.unfinished().filter(site=site, kind=kind).exists()


def _start(kind: str, site: Site, **params: object) -> int | None:
    try:
        return control.start(kind, site=site, params=params).pk
    except JobAlreadyRunning as exc:
        log.info("%s of %s not started: %s", kind, site.slug, exc)
        return None


SLACK = datetime.timedelta(minutes=30)  # half the hourly tick (a quarter of an interval at most)


def backups_due(now: datetime.datetime | None = None) -> list[int]:
    """Start the scheduled backups that are due; the ids of the jobs started."""
    now = now or timezone.now()
    started: list[int] = []
    for site in _deployed():
        if not site.backup_interval_hours or _busy(site, "backup"):
            continue
        last = (
            Backup.objects.filter(site=site, kind=Backup.Kind.SCHEDULED, status=Backup.Status.OK)
            .values_list("created_at", flat=True)
            .first()
        )
        # Less a tick's slack: a backup's row is written after the tick that started it, so "24 h" would
        # otherwise come round at the 25th tick and skip a calendar day now and then.
        hours = datetime.timedelta(hours=site.backup_interval_hours)
        interval = hours - min(SLACK, hours / 4)
        if last is not None and now - last < interval:
            continue
        if (job_id := _start("backup", site, backup_kind=Backup.Kind.SCHEDULED)) is not None:
            started.append(job_id)
    return started


def drills_due(now: datetime.datetime | None = None) -> list[int]:
    """Start a drill of the newest good backup of each site not drilled for DRILL_EVERY_DAYS."""
    every = int(getattr(settings, "BACKUP_DRILL_EVERY_DAYS", 7))
    if every <= 0:
        return []
    now = now or timezone.now()
    since = now - datetime.timedelta(days=every)
    started: list[int] = []
    sites = Site.objects.filter(pk__in=[s.pk for s in _deployed()]).annotate(
        last_drill=Max("backups__drilled_at"),
    )
    for site in sites.filter(Q(last_drill__isnull=True) | Q(last_drill__lt=since)):
        newest = Backup.objects.filter(site=site, status=Backup.Status.OK).first()
        if newest is None or _busy(site, "drill"):
            continue
        if (job_id := _start("drill", site, backup_id=newest.pk)) is not None:
            started.append(job_id)
    return started
