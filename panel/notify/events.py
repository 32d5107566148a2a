"""emit(): what the rest of the panel calls, on its own path, when something worth telling happens.

It must cost the caller little and never fail it: one query finds the subscribed channels that have
not had the same notice within the dedup window, one INSERT writes their deliveries, and a single
Celery message (sent once the caller's transaction commits) hands them to a worker. Any trouble is
logged and swallowed: a notice is never worth a failed job.

Dedup: a notice's key is its event and subject (a node's id, a site's slug, a job's id); a channel
that had the same key within NOTIFY_DEDUP_SECONDS is skipped. node.down and node.up are different
events, so a flapping node sends one of each per window, not one per flap.
"""

from __future__ import annotations

import datetime
import logging
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from panel.notify.catalog import EVENTS
from panel.notify.models import Channel, Delivery

log = logging.getLogger("panel.notify")
DEFAULT_DEDUP_SECONDS = 600


def emit(event: str, *, site: Any = None, cluster: Any = None, payload: Any = None, subject: Any = "") -> int:
    """Queue `event` for every enabled channel subscribed to it in its scope; returns how many.
    `site`/`cluster`: model instances (or None); `subject`: what the dedup key names besides the event."""
    try:
        # Inside the caller's transaction, a savepoint: a failure here leaves that transaction usable.
        # Outside one, each statement commits alone: no BEGIN/COMMIT round trips on the caller's path.
        guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
        with guard:
            ids = _queue(event, site, cluster, payload or {}, subject)
    except Exception:
        log.exception("notify: %s could not be queued (nothing sent)", event)
        return 0
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return len(ids)


def _queue(event: str, site: Any, cluster: Any, payload: dict[str, Any], subject: Any) -> list[int]:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if cluster is None and site is not None:
        cluster = site.cluster
    now = timezone.now()
    key = f"{event}:{subject}"[:200]
    channels = matching(event, site, cluster).exclude(
        Exists(
            Delivery.objects.filter(
                channel=OuterRef("pk"), dedup_key=key, created_at__gte=now - dedup_window()
            )
        )
    )
    channel_ids = list(channels.values_list("pk", flat=True))
    if not channel_ids:
        return []
    doc = document(event, now, site, cluster, payload)
    rows = [
        Delivery(channel_id=pk, event=event, payload=doc, dedup_key=key, created_at=now) for pk in channel_ids
    ]
    return [d.pk for d in Delivery.objects.bulk_create(rows)]


def matching(event: str, site: Any, cluster: Any) -> Any:
    """The enabled channels that want `event` from this site or cluster (or from everywhere)."""
    scope = Q(site__isnull=True, cluster__isnull=True)
    if cluster is not None:
        scope |= Q(site__isnull=True, cluster_id=cluster.pk)
    if site is not None:
        scope |= Q(site_id=site.pk)
    wanted = Q(events__contains=[event])
    return Channel.objects.filter(scope, wanted, enabled=True)


def document(event: str, at: datetime.datetime, site: Any, cluster: Any, payload: dict[str, Any]) -> dict:
    """What a webhook receives (and what chat messages are written from)."""
    return {
        "event": event,
        "time": at.isoformat(timespec="seconds"),
        "cluster": getattr(cluster, "name", None),
        "site": getattr(site, "slug", None),
        "payload": payload,
    }


def dedup_window() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "NOTIFY_DEDUP_SECONDS", DEFAULT_DEDUP_SECONDS))


def enqueue(ids: list[int]) -> None:
    """One message for the whole batch (the worker fans it out); a broker that is down leaves the
    deliveries queued, and the sweeper sends them later."""
    from panel.notify.tasks import fan_out

    try:
        fan_out.delay(ids)
    except Exception:
        log.exception("notify: the broker refused %s deliveries; the sweeper will retry them", len(ids))


def test_notice(channel: Channel) -> Delivery:
    """A delivery of `notify.test` to one channel, whatever it subscribes to (never deduplicated)."""
    now = timezone.now()
    doc = document("notify.test", now, channel.site, channel.cluster, {"channel": channel.name})
    return Delivery.objects.create(
        channel=channel, event="notify.test", payload=doc, dedup_key=f"notify.test:{now.timestamp()}"
    )
