"""Find the addons in a list of addons paths, and the Odoo core addons of a series.

Discovery follows Odoo, not any one tool: a folder holding `__manifest__.py` (or the older
`__openerp__.py`) is an addon, and when two paths hold the same name the FIRST path wins, as with
Odoo's `--addons-path` (manifestoo lets the last one win). An addon with `installable: False` is known
but unavailable: Odoo skips it and every addon depending on it, so the closure treats it as missing,
exactly as manifestoo does. Every bad manifest is reported, not just the first, so one upload round
trip shows them all.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from clusters.approvals.gate.errors import FileError, GateError, ManifestError
from clusters.approvals.gate.manifest import is_addon_name, parse_manifest, read_manifest_bytes

MANIFEST_NAMES = ("__manifest__.py", "__openerp__.py")
MAX_ADDONS = 50_000
MAX_ADDONS_PATHS = 100


@dataclass(frozen=True, slots=True)
class Addon:
    """What the gate needs from one addon's manifest."""

    name: str
    path: str
    depends: tuple[str, ...]
    installable: bool
    version: str | None
    # Odoo installs an auto_install addon by itself once its depends (True) or the listed ones are
    # installed: the blast radius of installing anything.
    auto_install: bool | tuple[str, ...] = False
    # The sha256 of the manifest file's bytes: what an approval binds to (gate.binding).
    manifest_sha256: str = ""


@dataclass
class AddonsIndex:
    """Addons found in the paths, by name (first path wins), plus the ones shadowed by an earlier path."""

    paths: list[str]
    addons: dict[str, Addon] = field(default_factory=dict)
    shadowed: list[Addon] = field(default_factory=list)

    def installable(self) -> dict[str, Addon]:
        return {name: a for name, a in self.addons.items() if a.installable}

    def take(self, name: str, where: str, load: Callable[[], Addon], errors: list[FileError]) -> None:
        """Add one addon (the first of a name wins; later ones are shadowed); a bad name or manifest
        goes to `errors`, so that one pass reports them all."""
        if len(self.addons) + len(self.shadowed) >= MAX_ADDONS:
            raise GateError(f"more than {MAX_ADDONS:,} addons in the addons paths")
        if not is_addon_name(name):
            errors.append(FileError(where, f"folder name {name!r} is not a valid addon name"))
            return
        try:
            addon = load()
        except ManifestError as exc:
            errors.extend(exc.errors)
            return
        if name in self.addons:
            self.shadowed.append(addon)
        else:
            self.addons[name] = addon

    def depends_map(self) -> dict[str, tuple[str, ...]]:
        """Direct depends of every installable addon: the graph the closure walks."""
        return {name: a.depends for name, a in self.addons.items() if a.installable}


def split_addons_path(value: str | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Accept 'a,b' (Odoo's --addons-path syntax) or a list of paths."""
    items = value.split(",") if isinstance(value, str) else [os.fspath(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def discover_addons(addons_paths: str | Sequence[str | os.PathLike[str]]) -> AddonsIndex:
    """Scan each addons path (one level, like Odoo) and parse every manifest; GateError lists all problems."""
    paths = split_addons_path(addons_paths)
    if not paths:
        raise GateError("no addons path given")
    if len(paths) > MAX_ADDONS_PATHS:
        raise GateError(f"{len(paths)} addons paths given; the limit is {MAX_ADDONS_PATHS}")
    index = AddonsIndex(paths=paths)
    errors: list[FileError] = []
    for base in paths:
        if not os.path.isdir(base):
            raise GateError(f"addons path {base} is not a directory")
        for name, manifest_path in _manifests_in(base):
            index.take(name, manifest_path, partial(_load, name, manifest_path), errors)
    if errors:
        raise GateError(f"{len(errors)} manifest(s) refused", errors)
    return index


def _manifests_in(base: str) -> Iterable[tuple[str, str]]:
    """(addon name, manifest path) for each addon folder directly under base, in name order."""
    with os.scandir(base) as entries:
        dirs = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    for name in dirs:
        folder = os.path.join(base, name)
        for manifest_name in MANIFEST_NAMES:
            manifest_path = os.path.join(folder, manifest_name)
            if os.path.lexists(manifest_path):
                yield name, manifest_path
                break


def _load(name: str, manifest_path: str) -> Addon:
    data = read_manifest_bytes(manifest_path)
    return addon_from(name, os.path.dirname(manifest_path), parse_manifest(data, manifest_path), data)


def addon_from(name: str, folder: str, manifest: dict[str, Any], data: bytes = b"") -> Addon:
    """An Addon from a manifest already parsed (parse_manifest checked its fields); `data`, the
    manifest's bytes, gives its hash."""
    auto = manifest.get("auto_install", False)
    return Addon(
        name=name,
        path=folder,
        depends=tuple(dict.fromkeys(manifest.get("depends", []))),
        installable=manifest.get("installable", True),
        version=manifest.get("version"),
        auto_install=tuple(auto) if isinstance(auto, list | tuple) else bool(auto),
        manifest_sha256=hashlib.sha256(data).hexdigest() if data else "",
    )


def index_from_texts(paths: list[str], entries: Iterable[tuple[str, str, str]]) -> AddonsIndex:
    """The index of addons read elsewhere (an image): (name, folder, manifest text), in addons-path
    order so that the first path wins, as with discover_addons. GateError lists every bad manifest."""
    index = AddonsIndex(paths=paths)
    errors: list[FileError] = []
    for name, folder, text in entries:
        where = f"{folder}/__manifest__.py"
        index.take(name, where, partial(_from_text, name, folder, text), errors)
    if errors:
        raise GateError(f"{len(errors)} manifest(s) refused", errors)
    return index


def _from_text(name: str, folder: str, text: str) -> Addon:
    data = text.encode()
    return addon_from(name, folder, parse_manifest(data, f"{folder}/__manifest__.py"), data)


def core_addons(series: str) -> frozenset[str]:
    """Odoo CE+EE core addon names for a series, from manifestoo-core's maintained lists."""
    from manifestoo_core.core_addons import get_core_addons
    from manifestoo_core.exceptions import UnsupportedOdooSeries
    from manifestoo_core.odoo_series import OdooSeries

    try:
        odoo_series = OdooSeries.from_str(series)
    except UnsupportedOdooSeries:
        known = ", ".join(s.value for s in OdooSeries)
        raise GateError(f"unknown Odoo series {series!r} (known: {known})") from None
    return frozenset(get_core_addons(odoo_series))


def addon_dirs_under(root: str | Path, max_depth: int = 2) -> list[str]:
    """Addons paths inside an unpacked upload: folders (root first, then deeper) that directly hold addons.

    An archive may be one addon, a folder of addons, or a repository with addons one level down;
    the search stops descending into addons themselves and after max_depth levels.
    """
    found: list[str] = []
    level = [os.fspath(root)]
    for _ in range(max_depth + 1):
        deeper: list[str] = []
        for folder in level:
            with os.scandir(folder) as entries:
                subdirs = sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
            addons = [d for d in subdirs if _has_manifest(d)]
            if addons:
                found.append(folder)
            deeper.extend(d for d in subdirs if d not in addons)
        level = deeper
    return found


def _has_manifest(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, m)) for m in MANIFEST_NAMES)
