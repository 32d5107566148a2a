"""The silent install, named: Odoo 19's `-u` installs a new dependency found on the addons path, and
every auto_install addon that follows it, instead of dropping the addon."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.approvals.gate.addons import discover_addons, index_from_texts
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.installed import installed_from_names
from clusters.approvals.gate.installs import auto_installed
from clusters.approvals.gate.verdict import check_change
from tests.gate.conftest import WriteTree, manifest_text

CORE = {
    "base": [],
    "web": ["base"],
    "bus": ["base", "web"],
    "mail": ["base", "bus", "web"],
    "mail_bot": ["mail"],
    "snailmail": ["mail", "iap"],
    "iap": ["web"],
    "sale": ["base"],
    "shop": ["sale", "mail"],  # its new manifest: `mail` is new
}
AUTO = {name: {"auto_install": True} for name in ("web", "bus", "mail_bot")} | {
    "snailmail": {"auto_install": ["mail"]}
}
INSTALLED = ["base", "web", "bus", "iap", "sale", "shop"]


def test_the_dependency_and_its_auto_install_followers_are_named(write_tree: WriteTree) -> None:
    tree = write_tree(CORE, overrides=AUTO)
    installed = installed_from_names(INSTALLED)
    verdict = check_change([str(tree)], "17.0", installed, select=["shop"])
    entry = verdict["addons"]["shop"]
    assert entry["blocked"]
    assert entry["would_install"] == {"modules": ["mail"], "auto_install": ["mail_bot", "snailmail"]}
    assert "`-u` would install: mail, and 2 auto-install modules (mail_bot, snailmail)" in entry["reasons"]


def test_followers_follow_followers_and_stop_at_what_is_missing(write_tree: WriteTree) -> None:
    tree = write_tree({**CORE, "bot_extra": ["mail_bot"], "lonely": ["mail", "nowhere_dep"]}, overrides={
        **AUTO, "bot_extra": {"auto_install": True}, "lonely": {"auto_install": True}
    })  # fmt: skip
    index = discover_addons([str(tree)])
    assert auto_installed(index, INSTALLED, ["mail"]) == ["bot_extra", "mail_bot", "snailmail"]


def test_nothing_to_install_names_nothing(write_tree: WriteTree) -> None:
    tree = write_tree({"base": [], "sale": ["base"], "shop": ["sale"]})
    verdict = check_change([str(tree)], "17.0", installed_from_names(["base", "sale", "shop"]))
    assert verdict["passes"]
    assert verdict["addons"]["shop"]["would_install"] == {"modules": [], "auto_install": []}


def test_an_index_from_manifest_texts_reads_like_a_folder(write_tree: WriteTree) -> None:
    tree = write_tree(CORE, overrides=AUTO)
    entries = [(p.name, str(p), (p / "__manifest__.py").read_text()) for p in sorted(Path(tree).iterdir())]
    from_texts = index_from_texts([str(tree)], entries)
    from_disk = discover_addons([str(tree)])
    assert from_texts.addons == from_disk.addons
    shop_twice = [("shop", "p1/shop", manifest_text(["sale"])), ("shop", "p2/shop", manifest_text(["mail"]))]
    index = index_from_texts(["p1", "p2"], shop_twice)  # the first path wins, as in Odoo
    assert index.addons["shop"].depends == ("sale",) and [a.path for a in index.shadowed] == ["p2/shop"]


def test_an_index_from_texts_refuses_what_is_not_a_literal_or_not_an_addon() -> None:
    with pytest.raises(GateError) as refused:
        index_from_texts(["p"], [
            ("ok", "p/ok", manifest_text([])),
            ("evil", "p/evil", "__import__('os').system('id')"),
            ("Bad Name", "p/Bad Name", manifest_text([])),
            ("auto", "p/auto", manifest_text([], auto_install="yes")),
        ])  # fmt: skip
    text = str(refused.value) + " ".join(str(e) for e in refused.value.errors)
    assert "3 manifest(s) refused" in text
    assert "p/evil/__manifest__.py" in text and "not a valid addon name" in text and "auto_install" in text
