"""What the module update asks the approval gate (clusters.sites.module_update.update.check_request, step 1).

A module is refused when the latest manifest change for this site that covers it is not approved
(pending, blocked or rejected): the code on the image may be that change, and `odoo -u` would load it
with whatever dependencies it declares. Approved and overridden changes pass; a module no change ever
covered passes too (the gate judges changes, not the code that predates it). "Latest" is the highest
change id, i.e. the last submitted, whatever was decided on older ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def unapproved_changes(site: Any, modules: Iterable[str]) -> list[str]:
    """The modules to refuse, sorted, each followed by its change and state: "name (change #3, pending)"."""
    from clusters.approvals.gate.workflow import may_update
    from clusters.approvals.models import ChangeAddon

    names = sorted(set(modules))
    if not names or site is None or site.pk is None:
        return []
    latest: dict[str, tuple[int, str]] = {}
    rows = (
        ChangeAddon.objects.filter(site_id=site.pk, name__in=names)
        .order_by("name", "-change_id")
        .values_list("name", "change_id", "change__state")
    )
    for name, change_id, state in rows:
        latest.setdefault(name, (change_id, state))
    return [
        f"{name} (change #{change_id}, {state})"
        for name, (change_id, state) in sorted(latest.items())
        if not may_update(state)
    ]
