"""How a verdict is laid out on a page: what can break the site first, then what merely changed."""

from __future__ import annotations

from typing import Any


def addon_rows(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdict's addons as rows: blocked ones first, then installed ones, then the rest, by name."""
    rows = [{"name": name, **entry} for name, entry in verdict.get("addons", {}).items()]
    rows.sort(key=lambda r: (not r["blocked"], not r["installed"], r["name"]))
    return rows
