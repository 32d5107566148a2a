"""Housekeeping tasks that show the dashboard whether the worker and beat are alive."""

import time

from celery import shared_task
from django.core.cache import cache

BEAT_KEY = "health:beat"
WORKER_KEY = "health:worker"


@shared_task(name="panel.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    # Beat enqueues this and a worker runs it: one fresh key proves both are up.
    now = time.time()
    cache.set(BEAT_KEY, now, timeout=300)
    cache.set(WORKER_KEY, now, timeout=300)


def liveness(max_age: float = 45.0) -> dict[str, bool]:
    """Whether beat and a worker were seen recently; never raises (Redis may be down)."""
    try:
        seen = cache.get_many([BEAT_KEY, WORKER_KEY])
    except Exception:
        return {"redis": False, "worker": False}
    now = time.time()
    return {"redis": True, "worker": now - seen.get(WORKER_KEY, 0) < max_age}
