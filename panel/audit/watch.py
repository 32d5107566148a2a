"""Verify and anchor on beat, and make a broken chain impossible to miss.

A verify that fails logs at ERROR, records an `audit.verify_failed` event (once per distinct
failure, not every hour) and leaves its report in the cache, where the dashboard shows admins a
red banner until a verify passes again. The beat task (panel.tasks.audit_verify) sends the
notification; on_verify_failed() is where anything else that must hear of a failure hooks in.
"""

import datetime
import logging
from typing import Any

from django.core.cache import cache

from panel.audit.store import SYSTEM, record
from panel.audit.verify import Result, verify

log = logging.getLogger("panel.audit")
ALERT_KEY = "audit:verify_failed"


def report_of(result: Result) -> dict[str, Any]:
    return {
        "broken_id": result.broken_id,
        "problems": result.problems(),
        "checked": result.checked,
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def check() -> Result:
    """One verify, as beat runs it: INFO when intact, ERROR and the failure hook when not."""
    result = verify()
    if result.ok:
        log.info(
            "audit verify: %s events, chain intact, head #%s %s, %s anchors matched",
            result.checked,
            result.head_id,
            result.head,
            result.anchored,
        )
        _forget_alert()
        return result
    report = report_of(result)
    log.error("audit verify FAILED after %s events: %s", result.checked, "; ".join(report["problems"]))
    on_verify_failed(report)
    return result


def on_verify_failed(report: dict[str, Any]) -> None:
    """What a failed verify leaves behind: the dashboard's banner, and an audit event the first time
    this failure is seen. Never raises: beat must keep running."""
    try:
        previous = alert()
        cache.set(ALERT_KEY, report, timeout=None)
    except Exception:
        log.exception("audit verify: the failure could not be stored for the dashboard")
        previous = None
    if previous and previous.get("problems") == report["problems"]:
        return
    try:
        record("audit.verify_failed", actor=SYSTEM, detail="; ".join(report["problems"]))
    except Exception:
        log.exception("audit verify: the failure could not be recorded in the audit log")


def alert() -> dict[str, Any] | None:
    """The last failed verify's report while no verify has passed since; None if Redis is down."""
    try:
        return cache.get(ALERT_KEY)
    except Exception:
        return None


def _forget_alert() -> None:
    try:
        cache.delete(ALERT_KEY)
    except Exception:
        log.exception("audit verify: the dashboard's banner could not be cleared")
