"""`gate closure`: the contract JSON, callable in-process as well as from the command line.

Shape: {"series": ..., "addons": {name: {"depends", "closure", "missing"}}}, every
list sorted, the closure excluding the addon itself, missing = reached names that are neither installable
addons in the paths nor Odoo core addons of the series (core addons are leaves: their manifests are not on
the paths, so their own depends are not expanded, exactly as manifestoo does).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from clusters.approvals.gate.addons import AddonsIndex, core_addons, discover_addons
from clusters.approvals.gate.closure import compute_closures
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.manifest import is_addon_name


def closure_report(
    addons_paths: str | Sequence[str | os.PathLike[str]],
    series: str,
    select: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Direct depends, closure and missing of the selected addons (default: every installable one)."""
    core = core_addons(series)
    index = discover_addons(addons_paths)
    available = index.depends_map()
    roots = sorted(available) if select is None else resolve_selection(index, select)
    closures = compute_closures(available, core, roots)
    return {
        "series": series,
        "addons": {
            name: {
                "depends": sorted(available[name]),
                "closure": sorted(closures[name].closure),
                "missing": sorted(closures[name].missing),
            }
            for name in roots
        },
    }


def resolve_selection(
    index: AddonsIndex, select: Iterable[str], allow_uninstallable: bool = False
) -> list[str]:
    """Validate `--select a,b`: plain names of addons present in the paths, in sorted order."""
    names = sorted({n.strip() for n in select if n.strip()})
    if not names:
        raise GateError("--select names no addon")
    for name in names:
        if not is_addon_name(name):
            raise GateError(f"--select: {name!r} is not an addon name")
        addon = index.addons.get(name)
        if addon is None:
            raise GateError(f"--select: addon {name} is not in the addons paths")
        if not addon.installable and not allow_uninstallable:
            raise GateError(f"--select: addon {name} is not installable (installable: False)")
    return names
