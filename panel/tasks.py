"""Housekeeping tasks: show the dashboard whether the worker and beat are alive, and keep the audit
chain anchored outside the database and verified (panel/audit/watch.py)."""

import hashlib
import time

from celery import shared_task
from django.core.cache import cache

from panel import notify
from panel.audit import anchor, watch

BEAT_KEY = "health:beat"
WORKER_KEY = "health:worker"


@shared_task(name="panel.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    # Beat enqueues this and a worker runs it: one fresh key proves both are up.
    now = time.time()
    cache.set(BEAT_KEY, now, timeout=300)
    cache.set(WORKER_KEY, now, timeout=300)


@shared_task(name="panel.tasks.audit_anchor", ignore_result=True)
def audit_anchor() -> None:
    anchor.write()


@shared_task(name="panel.tasks.audit_verify", ignore_result=True)
def audit_verify() -> None:
    result = watch.check()
    if not result.ok:
        problems = "; ".join(result.problems())
        # Deduplicated on the problems: the same broken chain is told once per window, not hourly.
        notify.emit("audit.verify_failed", payload={"problems": problems[:1000]}, subject=hash_of(problems))


def liveness(max_age: float = 45.0) -> dict[str, bool]:
    """Whether beat and a worker were seen recently; never raises (Redis may be down)."""
    try:
        seen = cache.get_many([BEAT_KEY, WORKER_KEY])
    except Exception:
        return {"redis": False, "worker": False}
    now = time.time()
    return {"redis": True, "worker": now - seen.get(WORKER_KEY, 0) < max_age}


def hash_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
