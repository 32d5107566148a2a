"""Addons on disk: discovery and `__manifest__.py` (facts §3, odoo/modules/module.py).

A manifest is a single dict literal, read with ast.literal_eval and never executed.
"""

import ast
import importlib.metadata
import importlib.util
import os
import re
import shutil

from . import SERIES

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


def module_path(name: str, paths: list[str]) -> str | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    for path in paths:
        if os.path.isfile(os.path.join(path, name, MANIFEST)):
            return os.path.join(path, name)
    return None


def get_modules(paths: list[str]) -> list[str]:
    names: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            names.update(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n, MANIFEST)))
    return sorted(names)


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
