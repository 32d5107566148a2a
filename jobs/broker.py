"""What the Celery broker still holds: the ids of tasks waiting in a queue, or delivered to a
worker that has not acknowledged them yet (kombu's Redis transport keeps those in its `unacked`
hash until the task starts).

The reaper asks this before it ends a job that stayed queued too long: a job whose task is still
here will run once a worker is free; one whose task is gone (Redis restarted, nothing persisted)
never will. Only the Redis transport can be read; for any other, or a broker that does not answer,
the answer is None and nothing is concluded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)


def held_task_ids() -> set[str] | None:
    """Task ids the broker holds, or None if it cannot be read."""
    from panel.celery import app

    try:
        with app.connection_for_read() as conn:
            channel: Any = conn.default_channel
            if not hasattr(channel, "conn_or_acquire"):
                return None  # not the Redis transport
            with channel.conn_or_acquire() as client:
                raw = [m for key in _queue_keys(app, channel) for m in client.lrange(key, 0, -1)]
                unacked = client.hvals(channel.unacked_key)
    except Exception as exc:  # whatever the transport raised: unknown, so nothing is ended
        log.warning("the broker's queues could not be read: %s", exc)
        return None
    messages = [_loads(m) for m in raw] + [_first(_loads(u)) for u in unacked]
    return {_task_id(m) for m in messages} - {""}


def _queue_keys(app: Any, channel: Any) -> set[str]:
    """Each queue is one Redis list per priority step (kombu's naming)."""
    queues = set(app.amqp.queues) | {app.conf.task_default_queue}
    steps = [p for p in getattr(channel, "priority_steps", [0]) if p]
    return queues | {f"{q}{channel.sep}{p}" for q in queues for p in steps}


def _loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _first(entry: Any) -> Any:
    return entry[0] if isinstance(entry, list) and entry else None


def _task_id(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    headers, properties = message.get("headers") or {}, message.get("properties") or {}
    return str(headers.get("id") or properties.get("correlation_id") or "")
