"""Fixtures for the approval gate: the real oca-17.0 tree and a tiny addon-tree writer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OCA = Path(os.environ.get("GATE_OCA_TREE", ROOT.parent / "shared" / "data" / "oca-17.0"))

WriteTree = Callable[..., Path]


@pytest.fixture(scope="session")
def oca_addons() -> Path:
    if not (OCA / "addons").is_dir():
        pytest.fail(f"the oca-17.0 tree is missing at {OCA} (set GATE_OCA_TREE)", pytrace=False)
    return OCA / "addons"


@pytest.fixture(scope="session")
def ground_truth(oca_addons: Path) -> dict[str, dict[str, list[str]]]:
    return json.loads((oca_addons.parent / "ground_truth.json").read_text())["addons"]


def manifest_text(depends: Sequence[str], **extra: Any) -> str:
    fields = {"name": "Test", "version": "17.0.1.0.0", "license": "AGPL-3", "depends": list(depends), **extra}
    return repr(fields) + "\n"


@pytest.fixture
def write_tree(tmp_path: Path) -> WriteTree:
    """write_tree({"a": ["b"], "b": []}, folder="p1", overrides={"b": {"installable": False}}) -> folder."""

    def write(
        graph: Mapping[str, Sequence[str]],
        folder: str = "addons",
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        base = tmp_path / folder
        for name, depends in graph.items():
            addon = base / name
            addon.mkdir(parents=True, exist_ok=True)
            (addon / "__init__.py").write_text("")
            extra = dict((overrides or {}).get(name, {}))
            (addon / "__manifest__.py").write_text(manifest_text(depends, **extra))
        base.mkdir(parents=True, exist_ok=True)
        return base

    return write
