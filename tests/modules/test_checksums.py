"""The addon checksum script and the "changed modules" arithmetic, without an engine: the script is
run here with this machine's python3 on addon folders made for the test (the lab test runs it in
the site's image)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clusters.models import Site
from clusters.sites.checksums import EXCLUDE, SCRIPT, Changed, changed_modules, parse_checksums
from clusters.sites.odoo_log import updated_modules


def checksums(*paths: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(EXCLUDE), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_checksums(out.stdout.splitlines())


def addon(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    for rel, text in {"__manifest__.py": "{'name': 'x'}", **files}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def test_a_change_in_code_changes_the_sum_assets_and_bytecode_do_not(tmp_path: Path) -> None:
    addon(tmp_path, "shop", {"__init__.py": "", "models/sale.py": "x = 1"})
    (tmp_path / "not_an_addon").mkdir()
    before = checksums(tmp_path)
    assert list(before) == ["shop"]

    addon(
        tmp_path,
        "shop",
        {"static/src/app.js": "1", "models/__pycache__/sale.cpython-311.pyc": "b", "i18n/shop.pot": ""},
    )
    assert checksums(tmp_path) == before  # click-odoo-update's exclusions

    (tmp_path / "shop/models/sale.py").write_text("x = 2")
    assert checksums(tmp_path)["shop"] != before["shop"]


def test_a_renamed_or_emptied_file_counts_and_the_first_path_wins(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    addon(one, "shop", {"a.py": ""})
    addon(two, "shop", {"b.py": "other code"})
    first = checksums(one, two)["shop"]
    assert first == checksums(one)["shop"]  # as on Odoo's addons path
    (one / "shop/a.py").rename(one / "shop/c.py")
    assert checksums(one)["shop"] != first


def test_changed_modules_compares_installed_modules_with_their_last_update() -> None:
    site = Site(
        installed_modules={
            "shop_base": ["installed", "17.0.1.0.0"],
            "shop_sale": ["installed", "17.0.1.0.0"],
            "shop_stock": ["installed", "17.0.1.0.0"],
            "sale": ["installed", "17.0.1.0"],
            "shop_new": ["uninstalled", ""],
        },
        module_checksums={"shop_base": "a", "shop_stock": "b"},
    )
    current = {"shop_base": "a", "shop_sale": "c", "shop_stock": "B", "shop_new": "d"}
    # sale is not on the site's addons path (Odoo core); shop_new is not installed
    assert changed_modules(site, current) == Changed(changed=["shop_stock"], unknown=["shop_sale"])


def test_updated_modules_are_read_from_odoo_info_lines() -> None:
    log = [
        "2026-11-29 12:48:14,235 1 INFO db odoo.modules.loading: loading 11 modules...",
        "2026-11-29 12:48:14,235 1 INFO db odoo.modules.loading: Loading module shop_base (9/11)",
        "2026-11-29 12:48:14,438 1 INFO db odoo.modules.loading: Loading module shop_sale (10/11)",
        "2026-11-29 12:48:14,438 1 DEBUG db odoo.modules.loading: Loading module sale (7/11)",
    ]
    assert updated_modules(log) == {"shop_base", "shop_sale"}
