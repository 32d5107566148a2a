"""Counters of events that no table keeps, shared by every process on every host through Redis.

Log lines are written by worker processes, possibly in other containers than the web process that
serves /metrics: prometheus_client's own multiprocess mode needs one directory shared by all of
them, which a Swarm deployment does not have, while every process already reaches Redis. So an
event is an HINCRBY on one hash and a scrape reads the hash (one HGETALL).

Redis keeps nothing across a restart here: the counters then start again from zero, which
Prometheus reads as a counter reset (rate() and increase() handle it). Counting never fails or
stalls the caller: errors are logged once and counting pauses for a few seconds.

Label values must come from bounded sets (a stream name, a delivery status): never an id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

KEY = "panel:metrics:events"
PAUSE_AFTER_ERROR = 5.0
SEPARATOR = "|"

#: name -> (help, label names). The exposed name is `panel_<name>_total`.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "job_log_lines": ("Log lines written by jobs (live stream and stored log), by stream.", ("stream",)),
    "notification_deliveries": ("Notifications sent, by channel and outcome.", ("channel", "status")),
}

_paused_until = 0.0
_warned = False


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def client() -> redis.Redis:
    return _client(str(settings.REDIS_URL))


def _field(name: str, labels: tuple[str, ...]) -> str:
    if name not in FAMILIES or len(labels) != len(FAMILIES[name][1]):
        raise ValueError(f"unknown event counter {name!r} or wrong labels {labels!r}")
    if any(SEPARATOR in value for value in labels):
        raise ValueError(f"a label value of {name} contains {SEPARATOR!r}: {labels!r}")
    return SEPARATOR.join((name, *labels))


def add(name: str, counts: Mapping[tuple[str, ...], int]) -> None:
    """Add to counters of one family: {label values: amount}. Never raises on a Redis error."""
    global _paused_until, _warned
    fields = {_field(name, labels): n for labels, n in counts.items() if n}
    if not fields or time.monotonic() < _paused_until:
        return
    try:
        pipe = client().pipeline(transaction=False)
        for field, n in fields.items():
            pipe.hincrby(KEY, field, n)
        pipe.execute()
    except redis.RedisError as exc:
        if not _warned:
            log.warning("metrics: could not count %s events in Redis (paused): %s", name, exc)
            _warned = True
        _paused_until = time.monotonic() + PAUSE_AFTER_ERROR
        return
    _warned = False


def notification_delivered(channel: str, status: str) -> None:
    """For the notifications (not written yet): count one delivery attempt, e.g.
    ("email", "sent") or ("webhook", "failed"). Until they call it the family has no samples."""
    add("notification_deliveries", {(channel, status): 1})


def read() -> dict[str, dict[tuple[str, ...], int]]:
    """Every counter, by family and label values (raises redis.RedisError if Redis is away)."""
    found: dict[str, dict[tuple[str, ...], int]] = {name: {} for name in FAMILIES}
    for raw_field, raw_value in client().hgetall(KEY).items():
        name, *labels = raw_field.decode().split(SEPARATOR)
        if name in found and len(labels) == len(FAMILIES[name][1]):
            found[name][tuple(labels)] = int(raw_value)
    return found
