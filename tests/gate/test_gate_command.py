"""The real `python manage.py gate ...` processes: the JSON contract and the exit codes 0 / 1 / 2."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clusters.approvals.gate.errors import GateError
from tests.gate.conftest import ROOT

SITE = ["base", "web", "report_xlsx", "report_xlsx_helper", "account", "account_asset_management"]


def gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "gate", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def installed_file(tmp_path: Path, ground_truth: dict[str, dict[str, list[str]]]) -> Path:
    names = set(SITE) | {n for top in SITE if top in ground_truth for n in ground_truth[top]["closure"]}
    path = tmp_path / "installed.json"
    path.write_text(json.dumps(sorted(names)))
    return path


@pytest.fixture
def trap(tmp_path: Path, oca_addons: Path) -> Path:
    """Only the changed addon, as a CI pipeline would send it: report_xlsx now needs sale_subscription."""
    folder = tmp_path / "change"
    shutil.copytree(oca_addons / "report_xlsx", folder / "report_xlsx")
    manifest = folder / "report_xlsx" / "__manifest__.py"
    manifest.write_text(manifest.read_text().replace('"depends": [', '"depends": ["sale_subscription", ', 1))
    return folder


def test_closure_json_contract_on_the_oca_tree(
    oca_addons: Path, ground_truth: dict[str, dict[str, list[str]]]
) -> None:
    proc = gate("closure", "--addons-path", str(oca_addons), "--series", "17.0", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["series"] == "17.0"
    assert report["addons"] == {
        name: {"depends": t["depends_direct"], "closure": t["closure"], "missing": t["missing"]}
        for name, t in ground_truth.items()
    }


def test_closure_select(oca_addons: Path) -> None:
    proc = gate(
        "closure", "--addons-path", str(oca_addons), "--series", "17.0", "--select", "report_xlsx", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)["addons"]) == ["report_xlsx"]


def test_check_exit_0_when_the_change_may_pass(oca_addons: Path, installed_file: Path) -> None:
    proc = gate(
        "check",
        "--addons-path",
        str(oca_addons),
        "--series",
        "17.0",
        "--installed",
        str(installed_file),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passes"] is True


def test_check_exit_1_on_the_seed_trap(trap: Path, oca_addons: Path, installed_file: Path) -> None:
    proc = gate(
        "check",
        "--addons-path",
        f"{trap},{oca_addons}",
        "--series",
        "17.0",
        "--installed",
        str(installed_file),
        "--current-addons-path",
        str(oca_addons),
        "--json",
    )
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["passes"] is False
    assert "report_xlsx" in verdict["blocked"]
    assert verdict["addons"]["report_xlsx"]["depends_added"] == ["sale_subscription"]
    assert verdict["blast_radius"] == ["account_asset_management", "report_xlsx", "report_xlsx_helper"]
    assert "gate: blocked:" in proc.stderr


def test_check_an_uploaded_archive(
    tmp_path: Path, trap: Path, oca_addons: Path, installed_file: Path
) -> None:
    archive = tmp_path / "change.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(trap.rglob("*")):
            zf.write(path, path.relative_to(trap))
    proc = gate(
        "check",
        "--archive",
        str(archive),
        "--addons-path",
        str(oca_addons),
        "--series",
        "17.0",
        "--installed",
        str(installed_file),
        "--select",
        "report_xlsx",
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("BLOCKED")
    assert "sale_subscription" in proc.stdout


def test_check_exit_2_on_bad_input(tmp_path: Path, oca_addons: Path, installed_file: Path) -> None:
    bad_tree = tmp_path / "bad"
    (bad_tree / "evil").mkdir(parents=True)
    (bad_tree / "evil" / "__manifest__.py").write_text("{'depends': __import__('os').listdir('/')}")
    bad_installed = tmp_path / "installed.txt"
    bad_installed.write_text("base\n../../etc\n")
    common = ["--series", "17.0", "--installed", str(installed_file), "--json"]
    cases = {
        "addons path /nope is not a directory": ["--addons-path", "/nope", *common],
        "function call `__import__('os').listdir(...)`": ["--addons-path", str(bad_tree), *common],
        "unknown Odoo series '16.5'": [
            "--addons-path",
            str(oca_addons),
            "--series",
            "16.5",
            "--installed",
            str(installed_file),
        ],
        "'../../etc' is not a module name": [
            "--addons-path",
            str(oca_addons),
            "--series",
            "17.0",
            "--installed",
            str(bad_installed),
        ],
        "one of the arguments --installed --site is required": [
            "--addons-path",
            str(oca_addons),
            "--series",
            "17.0",
        ],
    }
    for message, args in cases.items():
        proc = gate("check", *args)
        assert proc.returncode == 2, (message, proc.stdout, proc.stderr)
        assert message in proc.stderr, (message, proc.stderr)
        assert proc.stdout == ""


def without_file_permission_override() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set,
    so that root (the test machine) obeys a folder's mode like anyone else: chmod 000 becomes EACCES."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_or_missing_paths_exit_2_with_one_line(tmp_path: Path, installed_file: Path) -> None:
    """Never a traceback with exit 1 (a pipeline would read "blocked"): one line on stderr, exit 2."""
    locked = tmp_path / "locked"
    (locked / "a").mkdir(parents=True)
    (locked / "a" / "__manifest__.py").write_text("{'depends': ['base']}")
    locked.chmod(0)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    paths = {
        str(locked): f"cannot read {locked}: Permission denied",
        str(tmp_path / "missing"): "is not a directory",
        str(a_file): "is not a directory",
        str(tmp_path / "dangling"): "is not a directory",
    }
    drop = without_file_permission_override if os.geteuid() == 0 else None
    try:
        for path, message in paths.items():
            for action in ("check", "closure"):
                args = [action, "--addons-path", path, "--series", "17.0", "--json"]
                args += ["--installed", str(installed_file)] if action == "check" else []
                proc = subprocess.run(
                    [sys.executable, "manage.py", "gate", *args],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    preexec_fn=drop,
                )
                assert proc.returncode == 2, (path, action, proc.stderr)
                assert message in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
                assert "Traceback" not in proc.stderr and proc.stdout == ""
    finally:
        locked.chmod(0o755)


def test_check_unknown_site_exits_2(oca_addons: Path) -> None:
    proc = gate("check", "--addons-path", str(oca_addons), "--series", "17.0", "--site", "nosuch", "--json")
    assert proc.returncode == 2
    assert "site nosuch unknown" in proc.stderr


def test_site_without_snapshot_says_read_it_first(db: None) -> None:
    from clusters.approvals.management.commands.gate import _site
    from tests import factories

    site = factories.site(factories.cluster())
    with pytest.raises(GateError, match=f"no installed-modules snapshot for site {site.slug}; read it first"):
        _site(site.slug)
    with pytest.raises(GateError, match="site nosuch unknown"):
        _site("nosuch")
    site.installed_modules = {"base": ["installed", "17.0.1.3"], "sale": ["uninstalled", None]}
    site.modules_read_at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    site.save()
    installed = _site(site.slug)
    assert installed.versions == {"base": "17.0.1.3"}
    assert installed.read_at == site.modules_read_at and installed.source == f"site:{site.slug}"
