"""Notifications (README "Notifications"): channels that admins configure, and `emit()`, the one
function the rest of the panel calls when something worth telling happens.

Kept in the panel layer so that every layer (jobs, clusters) may call it; it imports none of them.
"""

from typing import Any


def emit(event: str, *, site: Any = None, cluster: Any = None, payload: Any = None, subject: Any = "") -> int:
    """Queue `event` for every subscribed channel; never raises (see panel.notify.events.emit)."""
    from panel.notify.events import emit as _emit

    return _emit(event, site=site, cluster=cluster, payload=payload, subject=subject)
