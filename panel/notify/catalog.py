"""The events a channel can subscribe to, and how each reads as a one-line notice.

A new event is one line here and one `emit()` where it happens; job.succeeded is off by default
(a busy panel would drown the rest).
"""

from typing import Any

EVENTS: dict[str, str] = {
    "job.failed": "Job #{job_id} ({kind}) failed{on}: {error}",
    "job.succeeded": "Job #{job_id} ({kind}) succeeded{on}",
    "update.started": "Module update started{on} (job #{job_id}): {modules}",
    "update.ended": "Module update ended{on} (job #{job_id}), {outcome}, downtime {downtime_s} s",
    "drift.detected": "Drift detected{on}: {summary}",
    "drift.cleared": "Drift cleared{on}",
    "node.down": "Node {hostname} is {state}{on}",
    "node.up": "Node {hostname} is back ({state}){on}",
    "approval.requested": "Approval requested{on}: change #{change_id} by {submitted_by}",
    "gate.blocked": "Change #{change_id} blocked by the gate{on}: {blocked}",
    "backup.failed": "Backup failed{on} (job #{job_id}): {error}",
    "drill.failed": "Restore drill failed{on} (job #{job_id}): {error}",
    "audit.verify_failed": "Audit verify FAILED: {problems}",
    "notify.test": "Test notice from the panel to channel {channel}",
}
OFF_BY_DEFAULT = {"job.succeeded"}
#: Sent to a channel whatever it subscribes to (the "Send a test" button and `notify test`).
ALWAYS = {"notify.test"}


def default_events() -> list[str]:
    return [e for e in EVENTS if e not in OFF_BY_DEFAULT and e not in ALWAYS]


def subscribable() -> list[str]:
    return [e for e in EVENTS if e not in ALWAYS]


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def summary(doc: dict[str, Any]) -> str:
    """One line for a chat message's title or an email's subject, from a delivery's document."""
    where = doc.get("site") or doc.get("cluster")
    fields = _Blank({k: _short(v) for k, v in (doc.get("payload") or {}).items()})
    fields["on"] = f" on {where}" if where else ""
    template = EVENTS.get(doc.get("event", ""), "{event}")
    fields.setdefault("event", doc.get("event", ""))
    return template.format_map(fields)[:300]


def body(doc: dict[str, Any]) -> str:
    """The plain-text body of a chat message or an email: the summary, then every payload field."""
    lines = [summary(doc), ""]
    for key in ("cluster", "site", "time"):
        if doc.get(key):
            lines.append(f"{key}: {doc[key]}")
    lines += [f"{k}: {_short(v, 500)}" for k, v in (doc.get("payload") or {}).items()]
    return "\n".join(lines)


def _short(value: Any, limit: int = 200) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
