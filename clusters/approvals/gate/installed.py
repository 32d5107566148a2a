"""The site's installed modules, as the gate compares against them.

In production they come from the site's database (`SELECT name, latest_version FROM ir_module_module
WHERE state='installed'`, read by a job, with the time it was read: the verdict is only as fresh as that
read). For the command line, `--installed FILE` accepts whatever is easiest to produce:

- a JSON list of names: `["base", "sale"]`
- a JSON object name -> version (or null): `{"base": "17.0.1.3", "sale": "17.0.1.2"}`;
  a value may also be an object `{"version": ..., "depends": [...]}` (ir_module_module_dependency),
  which lets the blast radius see installed modules whose code is not in the addons paths
- a JSON object name -> [state, latest_version], the panel's own `Site.installed_modules` shape (every
  ir_module_module row); only rows in state `installed` count
- a JSON object `{"read_at": "<ISO 8601>", "modules": <any form above>}` (a stored snapshot)
- plain text, one module per line, optionally followed by its version after whitespace, `,` or `|`
  (so `psql -At -c "SELECT name, latest_version ..."` output works as is); blank lines and `#` comments
  are skipped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.manifest import is_addon_name

MAX_INSTALLED_BYTES = 16 * 1024 * 1024
MAX_INSTALLED = 100_000
_LINE_SPLIT = re.compile(r"[\s,|]+")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}")


@dataclass
class InstalledModules:
    """Modules in state `installed` in one database, and when that was read."""

    versions: dict[str, str | None]
    read_at: datetime | None = None
    source: str = ""
    depends: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.versions

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "count": len(self.versions),
        }


def installed_from_names(
    names: Iterable[str] | Mapping[str, str | None], read_at: datetime | None = None, source: str = ""
) -> InstalledModules:
    """Build from a list of names or a name -> version mapping (e.g. rows read by the job engine)."""
    payload = names if isinstance(names, Mapping) else list(names)
    return _from_json(payload, source, read_at, unwrap=False)


def load_installed(path: str | os.PathLike[str]) -> InstalledModules:
    """Read `--installed FILE` in any of the documented formats; GateError on anything else."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read(MAX_INSTALLED_BYTES + 1)
    except OSError as exc:
        raise GateError(f"installed-modules file {name}: {exc.strerror}") from None
    if len(data) > MAX_INSTALLED_BYTES:
        raise GateError(f"installed-modules file {name} is larger than {MAX_INSTALLED_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GateError(f"installed-modules file {name} is not UTF-8") from None
    source = f"file:{name}"
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise GateError(f"installed-modules file {name} is not valid JSON: {exc}") from None
        return _from_json(payload, source, None, unwrap=True)
    return _from_lines(text, source)


def _from_lines(text: str, source: str) -> InstalledModules:
    versions: dict[str, str | None] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _LINE_SPLIT.split(line, maxsplit=1)
        where = f"{source} line {lineno}"
        _check_name(parts[0], where)
        version = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
        _check_version(version, parts[0], where)
        versions[parts[0]] = version
    return _bounded(InstalledModules(versions, None, source))


def _from_json(payload: Any, source: str, read_at: datetime | None, unwrap: bool) -> InstalledModules:
    if unwrap and isinstance(payload, dict) and "modules" in payload:
        read_at = _parse_time(payload.get("read_at"), source) or read_at
        payload = payload["modules"]
    versions: dict[str, str | None] = {}
    depends: dict[str, tuple[str, ...]] = {}
    if isinstance(payload, list):
        for item in payload:
            _check_name(item, source)
            versions[item] = None
    elif isinstance(payload, Mapping):
        for key, value in payload.items():
            _check_name(key, source)
            if isinstance(value, list) and len(value) == 2:  # [state, latest_version]
                if value[0] != "installed":
                    continue
                value = value[1]
            if isinstance(value, Mapping):
                deps = value.get("depends") or []
                if not isinstance(deps, list) or not all(is_addon_name(d) for d in deps):
                    raise GateError(f"{source}: depends of {key} must be a list of module names")
                depends[key] = tuple(deps)
                value = value.get("version")
            _check_version(value, key, source)
            versions[key] = value
    else:
        raise GateError(f"{source}: expected a list of module names or an object name -> version")
    return _bounded(InstalledModules(versions, read_at, source, depends))


def _check_name(value: object, where: str) -> None:
    if not is_addon_name(value):
        raise GateError(f"{where}: {value!r} is not a module name")


def _check_version(value: object, name: str, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        raise GateError(f"{where}: the version of {name} must be a version string or null, not {value!r}")


def _parse_time(value: object, source: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise GateError(f"{source}: read_at {value!r} is not an ISO 8601 time") from None


def _bounded(modules: InstalledModules) -> InstalledModules:
    if len(modules.versions) > MAX_INSTALLED:
        raise GateError(f"{modules.source}: more than {MAX_INSTALLED:,} installed modules")
    return modules
