"""`--installed FILE`: every documented format, and a clear error for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.installed import load_installed


def load(tmp_path: Path, text: str) -> dict[str, str | None]:
    path = tmp_path / "installed"
    path.write_text(text)
    return load_installed(path).versions


def test_json_list(tmp_path: Path) -> None:
    assert load(tmp_path, '["base", "sale"]') == {"base": None, "sale": None}


def test_json_object_of_versions(tmp_path: Path) -> None:
    assert load(tmp_path, '{"base": "17.0.1.3", "sale": null}') == {"base": "17.0.1.3", "sale": None}


def test_snapshot_with_read_time_and_dependency_rows(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(
        '{"read_at": "2026-11-29T10:00:00+00:00", "modules": '
        '{"base": "17.0.1.3", "sale": {"version": "17.0.1.2", "depends": ["base"]}}}'
    )
    installed = load_installed(path)
    assert installed.versions == {"base": "17.0.1.3", "sale": "17.0.1.2"}
    assert installed.depends == {"sale": ("base",)}
    assert installed.describe()["read_at"] == "2026-11-29T10:00:00+00:00"


def test_the_panels_own_site_shape_keeps_installed_rows_only(tmp_path: Path) -> None:
    text = '{"base": ["installed", "17.0.1.3"], "sale": ["uninstalled", null], "stock": ["to upgrade", "1"]}'
    assert load(tmp_path, text) == {"base": "17.0.1.3"}


def test_plain_text_and_psql_output(tmp_path: Path) -> None:
    text = "# installed\nbase\n\nsale|17.0.1.2\nstock 17.0.1.1\naccount,17.0.1.0\n"
    assert load(tmp_path, text) == {
        "base": None,
        "sale": "17.0.1.2",
        "stock": "17.0.1.1",
        "account": "17.0.1.0",
    }


@pytest.mark.parametrize(
    "text,message",
    [
        ('["base", ', "is not valid JSON"),
        ('["../etc"]', "is not a module name"),
        ("base\nrm -rf /\n", "line 2: the version of rm must be a version string"),
        ('{"base": 17}', "must be a version string or null"),
        ('"base"', "is not a module name"),
    ],
)
def test_bad_files_are_gate_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(GateError, match=message):
        load(tmp_path, text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="No such file"):
        load_installed(tmp_path / "nope.json")
