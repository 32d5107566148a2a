"""The verdict: an installed addon that newly needs sale_subscription (not installed) on real OCA
manifests, and each kind of unmet dependency."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clusters.approvals.gate.addons import discover_addons
from clusters.approvals.gate.installed import InstalledModules, installed_from_names
from clusters.approvals.gate.verdict import check_change, exit_code

# Installed on the site: these and everything they depend on (all present in the oca tree or core).
SITE_TOPS = ["account_asset_management", "mis_builder", "mis_builder_analytic"]


@pytest.fixture
def change(tmp_path: Path, oca_addons: Path) -> Path:
    """A copy of the oca tree that a change can edit."""
    return Path(shutil.copytree(oca_addons, tmp_path / "change"))


@pytest.fixture
def site(ground_truth: dict[str, dict[str, list[str]]]) -> InstalledModules:
    names = set(SITE_TOPS)
    for top in SITE_TOPS:
        assert not ground_truth[top]["missing"]
        names.update(ground_truth[top]["closure"])
    read_at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    return installed_from_names({n: "17.0.1.0.0" for n in names}, read_at, source="test")


def add_depend(tree: Path, addon: str, dep: str) -> None:
    path = tree / addon / "__manifest__.py"
    path.write_text(path.read_text().replace('"depends": [', f'"depends": ["{dep}", ', 1))


def test_seed_trap_sale_subscription_blocks_with_everything_above_named(
    change: Path, oca_addons: Path, site: InstalledModules, ground_truth: dict[str, dict[str, list[str]]]
) -> None:
    add_depend(change, "report_xlsx", "sale_subscription")
    current = discover_addons(str(oca_addons)).depends_map()
    verdict = check_change(str(change), "17.0", site, select=["report_xlsx"], current_depends=current)
    json.dumps(verdict)  # the HTTP endpoint returns it as is
    assert verdict["passes"] is False and exit_code(verdict) == 1
    assert verdict["blocked"] == ["report_xlsx"]
    entry = verdict["addons"]["report_xlsx"]
    assert entry["depends_added"] == ["sale_subscription"] and entry["depends_removed"] == []
    assert entry["not_installed"] == ["sale_subscription"]
    assert entry["missing"] == []
    assert (
        "sale_subscription, which is not installed in the site's database (read: 2026-11-29T10:00"
        in (entry["reasons"][0])
    )
    above = {n for n, t in ground_truth.items() if "report_xlsx" in t["closure"] and n in site}
    assert above == {"report_xlsx_helper", "account_asset_management", "mis_builder", "mis_builder_analytic"}
    assert entry["blast_radius"] == sorted(above | {"report_xlsx"})
    assert "tms_account_asset" not in entry["blast_radius"]  # depends on it, but not installed
    assert verdict["blast_radius"] == entry["blast_radius"]
    assert verdict["installed_snapshot"]["read_at"] == "2026-11-29T10:00:00+00:00"


def test_whole_change_blocks_every_installed_addon_that_would_be_skipped(
    change: Path, site: InstalledModules
) -> None:
    add_depend(change, "report_xlsx", "sale_subscription")
    verdict = check_change(str(change), "17.0", site)
    assert set(verdict["blocked"]) == {
        "report_xlsx",
        "report_xlsx_helper",
        "account_asset_management",
        "mis_builder",
        "mis_builder_analytic",
    }
    assert verdict["addons"]["tms_account_asset"]["blocked"] is False
    assert verdict["addons"]["tms_account_asset"]["notes"]


def test_the_same_change_passes_once_the_dependency_is_installed(
    change: Path, site: InstalledModules
) -> None:
    add_depend(change, "report_xlsx", "sale_subscription")
    site.versions["sale_subscription"] = "17.0.1.0"
    verdict = check_change(str(change), "17.0", site)
    assert verdict["passes"] is True and exit_code(verdict) == 0
    assert verdict["blocked"] == [] and verdict["blast_radius"] == []


def test_unchanged_tree_passes(oca_addons: Path, site: InstalledModules) -> None:
    assert check_change(str(oca_addons), "17.0", site)["passes"] is True


def test_a_dependency_found_nowhere_is_missing(change: Path, site: InstalledModules) -> None:
    add_depend(change, "report_xlsx", "no_such_module")
    entry = check_change(str(change), "17.0", site, select=["report_xlsx"])["addons"]["report_xlsx"]
    assert entry["blocked"] and entry["missing"] == ["no_such_module"]
    assert "found nowhere: not in the addons paths, not an Odoo 17.0 core addon" in entry["reasons"][0]


def test_installed_code_outside_the_paths_does_not_block(change: Path, site: InstalledModules) -> None:
    add_depend(change, "report_xlsx", "custom_in_image")
    site.versions["custom_in_image"] = "17.0.1.0"
    entry = check_change(str(change), "17.0", site, select=["report_xlsx"])["addons"]["report_xlsx"]
    assert not entry["blocked"] and entry["outside_paths"] == ["custom_in_image"]


def test_uninstallable_dependency_or_addon_blocks(change: Path, site: InstalledModules) -> None:
    path = change / "report_xlsx" / "__manifest__.py"
    path.write_text(path.read_text().replace('"installable": True', '"installable": False'))
    verdict = check_change(str(change), "17.0", site, select=["report_xlsx", "report_xlsx_helper"])
    assert verdict["addons"]["report_xlsx"]["reasons"] == [
        "report_xlsx is installed on the site but `installable: False` in the change: Odoo skips it"
    ]
    assert verdict["addons"]["report_xlsx_helper"]["not_installable"] == ["report_xlsx"]
    assert verdict["blocked"] == ["report_xlsx", "report_xlsx_helper"]


def test_addons_not_installed_block_when_named_or_strict(change: Path, site: InstalledModules) -> None:
    """A dependency that is not installed blocks. A whole-tree check reports the addons the
    site never installed as notes (a repository holds many); naming one, or strict, blocks on it."""
    whole = check_change(str(change), "17.0", site)
    entry = whole["addons"]["tms_account_asset"]
    assert entry["notes"] and not entry["blocked"]
    named = check_change(str(change), "17.0", site, select=["tms_account_asset"])
    assert not named["passes"] and named["blocked"] == ["tms_account_asset"]
    assert named["addons"]["tms_account_asset"]["not_installed"]
    strict = check_change(str(change), "17.0", site, strict=True)
    assert not strict["passes"] and "tms_account_asset" in strict["blocked"]


def test_blast_radius_also_uses_the_databases_dependency_rows(change: Path, site: InstalledModules) -> None:
    add_depend(change, "report_xlsx", "sale_subscription")
    site.versions["other_repo_report"] = "17.0.1.0"
    site.depends["other_repo_report"] = ("report_xlsx_helper",)
    entry = check_change(str(change), "17.0", site, select=["report_xlsx"])["addons"]["report_xlsx"]
    assert "other_repo_report" in entry["blast_radius"]


def test_depends_removed_and_new_addons(change: Path, oca_addons: Path, site: InstalledModules) -> None:
    current = discover_addons(str(oca_addons)).depends_map()
    current["report_xlsx"] = (*current["report_xlsx"], "mail")
    del current["mis_builder"]
    verdict = check_change(
        str(change), "17.0", site, select=["report_xlsx", "mis_builder"], current_depends=current
    )
    assert verdict["addons"]["report_xlsx"]["depends_removed"] == ["mail"]
    assert verdict["addons"]["mis_builder"]["new"] is True
    assert verdict["addons"]["mis_builder"]["depends_added"] == verdict["addons"]["mis_builder"]["depends"]
