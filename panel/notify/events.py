"""emit(): what the rest of the panel calls, on its own path, when something worth telling happens.

It must cost the caller little and never fail it: one INSERT … SELECT finds the subscribed channels
that have not had the same notice within the dedup window and writes their deliveries, and a single
Celery message (sent once the caller's transaction commits) hands them to a worker. Any trouble is
logged and swallowed: a notice is never worth a failed job.

Dedup: a notice's key is its event and subject (a node's id, a site's slug, a job's id); a channel
that had the same key within NOTIFY_DEDUP_SECONDS is skipped. node.down and node.up are different
events, so a flapping node sends one of each per window, not one per flap.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from panel.notify.catalog import EVENTS
from panel.notify.models import Channel, Delivery

log = logging.getLogger("panel.notify")
DEFAULT_DEDUP_SECONDS = 600


def emit(event: str, *, site: Any = None, cluster: Any = None, payload: Any = None, subject: Any = "") -> int:
    """Queue `event` for every enabled channel subscribed to it in its scope; returns how many.
    `site`/`cluster`: model instances (or None); `subject`: what the dedup key names besides the event."""
    try:
        if transaction.get_connection().in_atomic_block:
            # A savepoint: a failure leaves the caller's transaction usable; it commits as the caller chose.
            with transaction.atomic():
                ids = _queue(event, site, cluster, payload or {}, subject, alone=False)
        else:
            ids = _queue(event, site, cluster, payload or {}, subject, alone=True)
    except Exception:
        log.exception("notify: %s could not be queued (nothing sent)", event)
        return 0
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return len(ids)


def _queue(
    event: str, site: Any, cluster: Any, payload: dict[str, Any], subject: Any, *, alone: bool
) -> list[int]:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if cluster is None and site is not None:
        cluster = site.cluster
    now = timezone.now()
    doc = document(event, now, site, cluster, payload)
    return insert_deliveries(event, doc, f"{event}:{subject}"[:200], now, site, cluster, alone=alone)


# Every enabled channel subscribed to the event in its scope (all, the cluster, the site) that has not
# had the same notice within the window gets a row: look-up, dedup and rows in one round trip, and
# the document sent once (a bulk insert sent it once per channel, and the look-up was a query of its own).
INSERT = """
INSERT INTO notify_delivery
    (channel_id, event, payload, dedup_key, status, attempts, last_error, created_at)
SELECT c.id, %(event)s, %(doc)s, %(key)s, 'queued', 0, '', %(now)s
FROM notify_channel c{lazy}
WHERE c.enabled
  AND ((c.site_id IS NULL AND (c.cluster_id IS NULL OR c.cluster_id = %(cluster)s)) OR c.site_id = %(site)s)
  AND {subscribed}
  AND NOT EXISTS (
    SELECT 1 FROM notify_delivery d
    WHERE d.channel_id = c.id AND d.dedup_key = %(key)s AND d.created_at >= %(since)s)
RETURNING id
"""
# Outside the caller's transaction the statement is its own, and commits without waiting for the WAL
# flush: on a busy disk that fsync was most of the job's cost (5 to 10 ms), and a PostgreSQL crash in
# the next fraction of a second could lose a notice, never a job's row. set_config(..., true) holds
# for this statement's transaction only, and the commit reads it before it is undone.
LAZY_COMMIT = ", (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit"
SUBSCRIBED = {
    "postgresql": "c.events @> %(wanted)s::jsonb",
    "sqlite": "EXISTS (SELECT 1 FROM json_each(c.events) WHERE json_each.value = %(event)s)",
}


def insert_deliveries(
    event: str, doc: dict, key: str, now: datetime.datetime, site: Any, cluster: Any, *, alone: bool = False
) -> list[int]:
    """The deliveries of one notice, written by a single statement; returns their ids."""
    params = {
        "event": event,
        "doc": Delivery._meta.get_field("payload").get_db_prep_save(doc, connection),
        "key": key,
        "now": connection.ops.adapt_datetimefield_value(now),
        "since": connection.ops.adapt_datetimefield_value(now - dedup_window()),
        "cluster": getattr(cluster, "pk", None),
        "site": getattr(site, "pk", None),
        "wanted": json.dumps([event]),
    }
    with connection.cursor() as cursor:
        lazy = LAZY_COMMIT if alone and connection.vendor == "postgresql" else ""
        cursor.execute(INSERT.format(subscribed=SUBSCRIBED[connection.vendor], lazy=lazy), params)
        return [row[0] for row in cursor.fetchall()]


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
