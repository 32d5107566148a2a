"""The audit log's one entry point. (Stub: the append-only, hash-chained store lands with the audit
issue; every caller already goes through `record`, so nothing changes for them.)"""

from typing import Any


def record(
    action: str,
    *,
    request: Any = None,
    actor: Any = None,
    target: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    job: Any = None,
    site: Any = None,
    cluster: Any = None,
    detail: str = "",
) -> None:
    """Record one event. `actor` defaults to request.user; actor "system" for the reaper and beat.

    action: dotted name, e.g. "site.create", "site.deploy", "job.cancel", "gate.approve".
    target: a model instance (type, id and str are kept) or None.
    before/after: field values where something changed; secrets are masked by the store.
    """
    return None
