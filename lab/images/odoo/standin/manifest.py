"""Addons on disk: discovery and `__manifest__.py` (odoo/modules/module.py).

A manifest is a single dict literal, read with ast.literal_eval and never executed.
"""

import ast
import builtins
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil

from . import MAJOR, SERIES

_logger = logging.getLogger("odoo.modules.module")
_warned_incompatible: set[str] = set()
_imported: set[str] = set()

MANIFEST = "__manifest__.py"
MAX_MANIFEST_BYTES = 256 * 1024

DEFAULTS = {
    "application": False,
    "author": "Odoo S.A.",
    "auto_install": False,
    "category": "Uncategorized",
    "data": [],
    "demo": [],
    "depends": [],
    "description": "",
    "external_dependencies": {},
    "installable": True,
    "license": "LGPL-3",
    "summary": "",
    "version": "1.0",
}


def adapt_version(version: str) -> str:
    """Prefix the series when missing: "1.0" -> "17.0.1.0" (module.py adapt_version)."""
    if version == SERIES or not version.startswith(SERIES + "."):
        base, version = version, f"{SERIES}.{version}"
    else:
        base = version[len(SERIES) + 1 :]
    if not re.match(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$", base):
        raise ValueError(
            f"Invalid version {base!r}. Modules should have a version in format `x.y`, `x.y.z`, "
            f"`{SERIES}.x.y` or `{SERIES}.x.y.z`."
        )
    return version


def _exists(path: str, name: str) -> bool:
    """A module folder; a core addon may say from which series Odoo has it (`standin_since`: rpc is 19+)."""
    manifest = os.path.join(path, name, MANIFEST)
    if not os.path.isfile(manifest):
        return False
    if os.path.basename(path) == "core_addons":
        with open(manifest, encoding="utf-8") as f:
            since = ast.literal_eval(f.read()).get("standin_since", 0)
        return since <= MAJOR
    return True


def module_path(name: str, paths: list[str]) -> str | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    for path in paths:
        if _exists(path, name):
            return os.path.join(path, name)
    return None


def get_modules(paths: list[str]) -> list[str]:
    names: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            names.update(n for n in os.listdir(path) if _exists(path, n))
    return sorted(names)


def is_incompatible(version: str) -> bool:
    """A version that names another series (`18.0.1.0.0` on 19): module.py check_version fails."""
    parts = str(version).split(".")
    return len(parts) in (4, 5) and not str(version).startswith(SERIES + ".")


def load_manifest(name: str, paths: list[str]) -> dict | None:
    """The manifest with Odoo's defaults, or None when no code is on disk. Parse errors propagate."""
    path = module_path(name, paths)
    if not path:
        return None
    with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
        text = f.read(MAX_MANIFEST_BYTES + 1)
    if len(text) > MAX_MANIFEST_BYTES:
        raise ValueError(f"module {name}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    data = ast.literal_eval(text)
    if not isinstance(data, dict):
        raise ValueError(f"module {name}: the manifest is not a dict")
    manifest = {**DEFAULTS, **data}
    manifest["depends"] = list(manifest["depends"] or [])
    # auto_install: False, True (= every depends) or a list that must be a subset of depends.
    auto = manifest["auto_install"]
    if isinstance(auto, list | tuple | set):
        manifest["auto_install"] = set(auto)
    elif auto:
        manifest["auto_install"] = set(manifest["depends"])
    if manifest["installable"] and is_incompatible(manifest["version"]):
        # Real Odoo logs it once per process (manifests are cached) and the module is not installable.
        if name not in _warned_incompatible:
            _warned_incompatible.add(name)
            _logger.warning("The module %s has an incompatible version, setting installable=False", name)
        manifest["installable"] = False
    try:
        manifest["version"] = adapt_version(str(manifest["version"]))
    except ValueError:
        if manifest["installable"]:
            raise
    manifest["addons_path"] = os.path.dirname(path)
    return manifest


def get_module_info(name: str, paths: list[str]) -> dict:
    """ir.module.module.get_module_info: a broken manifest reads as no manifest."""
    try:
        return load_manifest(name, paths) or {}
    except Exception:
        return {}


def check_external_dependencies(manifest: dict) -> str | None:
    """The first unmet external dependency as Odoo words it, or None (module.py)."""
    deps = manifest.get("external_dependencies") or {}
    for pydep in deps.get("python", []):
        try:
            importlib.metadata.version(pydep)
        except importlib.metadata.PackageNotFoundError:
            try:
                found = importlib.util.find_spec(pydep) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return f"Python library not installed: {pydep}"
    for binary in deps.get("bin", []):
        if shutil.which(binary) is None:
            return f"Unable to find {binary!r} in path"
    return None


class ImportFailure(Exception):
    """Stands for whatever an addon's `__init__.py` raises (the stand-in never runs addon code)."""


def _raised(stmt: ast.Raise) -> Exception:
    exc = stmt.exc
    name, args = "Exception", []
    if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name):
        name = exc.func.id
        args = [a.value for a in exc.args if isinstance(a, ast.Constant)]
    elif isinstance(exc, ast.Name):
        name = exc.id
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (ImportFailure,), {"__module__": "builtins"})
    return cls(*args)


def import_module(name: str, paths: list[str]) -> None:
    """load_openerp_module: `import odoo.addons.<name>`. The stand-in does not execute addon code; it
    reads `__init__.py` and raises what a top-level `raise` (or a syntax error) would, which is how
    a test makes an addon whose Python breaks on import. CRITICAL `Couldn't load module`.
    """
    if name in _imported:
        return
    path = module_path(name, paths)
    init = os.path.join(path, "__init__.py") if path else None
    try:
        if path is None:
            raise ModuleNotFoundError(f"No module named 'odoo.addons.{name}'")
        if os.path.isfile(init):
            with open(init, encoding="utf-8") as f:
                tree = ast.parse(f.read(), init)
            for stmt in tree.body:
                if isinstance(stmt, ast.Raise):
                    raise _raised(stmt)
    except Exception:
        _logger.critical("Couldn't load module %s", name)
        raise
    _imported.add(name)
