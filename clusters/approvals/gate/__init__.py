"""The approval gate's engine: pure Python, no Django models, so the CLI, the HTTP endpoint and the job
engine share one implementation.

In-process API (all raise clusters.approvals.gate.errors.GateError on bad input):
- closure_report(addons_paths, series, select=None) -> the `gate closure --json` dict
- check_change(addons_paths, series, installed, *, select=None, current_depends=None, strict=False)
  -> the `gate check --json` verdict dict; exit_code(verdict) -> 0 / 1
- load_installed(path) / installed_from_names(names_or_versions, read_at=None, source="") -> InstalledModules
- unpack_archive(path, limits=None) -> UnpackedArchive (context manager; .root is the folder),
  addon_dirs_under(root) -> addons paths inside it
- clusters.approvals.gate.workflow: initial_state / check_approve / check_reject / check_override / may_update
Names are loaded lazily so that importing the package (e.g. from the management command) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "closure_report": "clusters.approvals.gate.report",
    "check_change": "clusters.approvals.gate.verdict",
    "exit_code": "clusters.approvals.gate.verdict",
    "load_installed": "clusters.approvals.gate.installed",
    "installed_from_names": "clusters.approvals.gate.installed",
    "InstalledModules": "clusters.approvals.gate.installed",
    "unpack_archive": "clusters.approvals.gate.archive",
    "ArchiveLimits": "clusters.approvals.gate.archive",
    "addon_dirs_under": "clusters.approvals.gate.addons",
    "discover_addons": "clusters.approvals.gate.addons",
    "core_addons": "clusters.approvals.gate.addons",
    "GateError": "clusters.approvals.gate.errors",
    "ManifestError": "clusters.approvals.gate.errors",
    "ArchiveError": "clusters.approvals.gate.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clusters.approvals.gate' has no attribute {name!r}")
    return getattr(import_module(module), name)
