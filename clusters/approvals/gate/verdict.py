"""`gate check`: may this manifest change reach this site?

The trap it exists for: when an installed addon gains a
dependency the database does not have installed, `odoo -u` does not fail. Odoo logs "Unmet dependencies"
at INFO, silently leaves the addon AND every installed module above it out of the registry, and exits 0.
So each changed addon that is installed on the site is blocked when anything in its closure is not
installed in the site's database, is found nowhere, or is not installable; the verdict names the addon
and every installed module that depends on it (the blast radius), because all of them would vanish.

Dependencies are sorted into four kinds:
- not_installed: code is present (addons paths or Odoo core) but the database does not have it installed;
- missing: found nowhere, neither in the paths, nor core, nor installed in the database;
- not_installable: in the paths with `installable: False` (Odoo skips it and its dependents);
- outside_paths: installed in the database but not in these paths (its code is elsewhere on the image);
  informative only, its own depends cannot be expanded here.
Addons of the change that are not installed on the site cannot break it, so in a whole-tree check (a
repository with addons the site never installed) they are reported as notes. They block like the
others when named with `select` (the caller asks about exactly these addons: a CI step checking
what a merge adds) or with strict=True (a change meant to install them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clusters.approvals.gate.addons import AddonsIndex, core_addons, discover_addons
from clusters.approvals.gate.closure import compute_closures, dependents, reverse_depends
from clusters.approvals.gate.installed import InstalledModules
from clusters.approvals.gate.installs import auto_installed, install_note
from clusters.approvals.gate.report import resolve_selection


def _entry(
    name: str,
    closure: frozenset[str],
    index: AddonsIndex,
    core: frozenset[str],
    installed: InstalledModules,
    current_depends: Mapping[str, Sequence[str]] | None,
) -> dict[str, Any]:
    """One addon's facts before judgement: its closure classified, its depends diffed, its versions."""
    addon = index.addons[name]
    entry = _classify(closure, index, core, installed)
    entry.update(_diff(name, addon.depends, current_depends))
    entry.update(
        installed=name in installed,
        installed_version=installed.versions.get(name),
        version=addon.version,
        installable=addon.installable,
        depends=sorted(addon.depends),
    )
    return entry


def check_change(
    addons_paths: str | Sequence[str | os.PathLike[str]],
    series: str,
    installed: InstalledModules,
    *,
    select: Iterable[str] | None = None,
    current_depends: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    index: AddonsIndex | None = None,
) -> dict[str, Any]:
    """The verdict as a JSON-ready dict; `passes` is the answer, GateError means bad input.

    `current_depends` is the site's current direct depends per addon (its manifests before the change), for
    depends_added / depends_removed; without it those are null. `index` lets a caller that already scanned
    the paths (e.g. an upload) skip the second scan.

    Shape: {series, passes, installed_snapshot: {source, read_at, count}, addons_paths, blocked: [names],
    blast_radius: [union], warnings: [str], addons: {name: {installed, installed_version, version,
    installable, depends, new, depends_added, depends_removed, closure, missing, not_installed,
    not_installable, outside_paths, blocked, reasons, notes, blast_radius,
    would_install: {modules, auto_install}}}}; lists sorted.
    """
    core = core_addons(series)
    index = index or discover_addons(addons_paths)
    available = index.depends_map()
    changed = sorted(index.addons) if select is None else resolve_selection(index, select, True)
    closures = compute_closures(available, core, changed)
    reverse = reverse_depends(_blast_graph(available, installed, current_depends))
    addons: dict[str, Any] = {}
    for name in changed:
        closure = closures[name].closure if name in closures else frozenset()
        entry = _entry(name, closure, index, core, installed, current_depends)
        _judge(name, entry, installed, series, strict or select is not None)
        _would_install(entry, index, installed)
        if entry["blocked"]:
            radius = dependents(reverse, [name]) | {name}
            entry["blast_radius"] = sorted(n for n in radius if n in installed)
        else:
            entry["blast_radius"] = []
        addons[name] = entry
    blocked = [n for n, e in addons.items() if e["blocked"]]
    return {
        "series": series,
        "passes": not blocked,
        "installed_snapshot": installed.describe(),
        "addons_paths": index.paths,
        "blocked": blocked,
        "blast_radius": sorted({m for n in blocked for m in addons[n]["blast_radius"]}),
        "warnings": [
            f"{a.name} in {a.path} is shadowed by the one in {index.addons[a.name].path} (first path wins)"
            for a in index.shadowed
        ],
        "addons": addons,
    }


def exit_code(verdict: Mapping[str, Any]) -> int:
    """The `gate check` exit status for a verdict: 0 may pass, 1 blocked (2 is bad input, raised earlier)."""
    return 0 if verdict["passes"] else 1


def _blast_graph(
    available: Mapping[str, Sequence[str]],
    installed: InstalledModules,
    current: Mapping[str, Sequence[str]] | None,
) -> dict[str, set[str]]:
    """Edges from every source we have: the change, the database's own dependency rows, the current code."""
    graph: dict[str, set[str]] = {name: set(deps) for name, deps in available.items()}
    for source in (installed.depends, current or {}):
        for name, deps in source.items():
            graph.setdefault(name, set()).update(deps)
    return graph


def _would_install(entry: dict[str, Any], index: AddonsIndex, installed: InstalledModules) -> None:
    """Odoo 19 installs a new dependency that is on the addons path (and what auto-installs after it)
    instead of dropping the addon: name them, the blast radius in the other direction."""
    present = entry["not_installed"]
    followers = auto_installed(index, installed.versions, present) if present else []
    entry["would_install"] = {"modules": present, "auto_install": followers}
    if present and entry["blocked"]:
        entry["reasons"].append(install_note(present, followers))


def _classify(
    closure: frozenset[str], index: AddonsIndex, core: frozenset[str], installed: InstalledModules
) -> dict[str, Any]:
    missing, not_installed, not_installable, outside = [], [], [], []
    for dep in sorted(closure):
        addon = index.addons.get(dep)
        if addon is not None and not addon.installable:
            not_installable.append(dep)
        elif addon is not None or dep in core:
            if dep not in installed:
                not_installed.append(dep)
        elif dep in installed:
            outside.append(dep)
        else:
            missing.append(dep)
    return {
        "closure": sorted(closure),
        "missing": missing,
        "not_installed": not_installed,
        "not_installable": not_installable,
        "outside_paths": outside,
    }


def _diff(name: str, depends: Sequence[str], current: Mapping[str, Sequence[str]] | None) -> dict[str, Any]:
    if current is None:
        return {"new": None, "depends_added": None, "depends_removed": None}
    before = current.get(name)
    if before is None:
        return {"new": True, "depends_added": sorted(depends), "depends_removed": []}
    return {
        "new": False,
        "depends_added": sorted(set(depends) - set(before)),
        "depends_removed": sorted(set(before) - set(depends)),
    }


def _judge(name: str, entry: dict[str, Any], installed: InstalledModules, series: str, strict: bool) -> None:
    """Fill blocked / reasons / notes; an addon not installed on the site only blocks in strict mode."""
    read = installed.read_at.isoformat() if installed.read_at else "time of reading unknown"
    reasons: list[str] = []
    if entry["installed"] and not entry["installable"]:
        reasons.append(
            f"{name} is installed on the site but `installable: False` in the change: Odoo skips it"
        )
    reasons += [
        f"depends on {d}, which is not installed in the site's database (read: {read})"
        for d in entry["not_installed"]
    ]
    reasons += [
        f"depends on {d}, found nowhere: not in the addons paths, not an Odoo {series} core addon, "
        "not installed"
        for d in entry["missing"]
    ]
    reasons += [
        f"depends on {d}, which is not installable (installable: False)" for d in entry["not_installable"]
    ]
    gated = entry["installed"] or strict
    entry["blocked"] = bool(reasons) and gated
    entry["reasons"] = reasons if gated else []
    entry["notes"] = (
        [f"{name} is not installed on the site, so it cannot break it; not blocking: " + "; ".join(reasons)]
        if reasons and not gated
        else []
    )
