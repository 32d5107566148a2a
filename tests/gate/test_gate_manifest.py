"""Manifests are parsed, never executed; each hostile shape gets its own clear error."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from clusters.approvals.gate.errors import ManifestError
from clusters.approvals.gate.manifest import MAX_MANIFEST_BYTES, parse_manifest, read_manifest


def refused(source: str | bytes) -> str:
    data = source.encode() if isinstance(source, str) else source
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, "addon/__manifest__.py")
    assert info.value.path == "addon/__manifest__.py"
    return info.value.reason


def test_every_real_manifest_parses_as_literal_eval_does(oca_addons: Path) -> None:
    manifests = sorted(oca_addons.glob("*/__manifest__.py"))
    assert len(manifests) == 400
    for path in manifests:
        assert read_manifest(path) == ast.literal_eval(path.read_text()), path


def test_function_call_is_refused_and_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    reason = refused(f"{{'name': open({str(target)!r}, 'w'), 'depends': []}}")
    assert "function call `open(...)`" in reason
    assert not target.exists()


def test_dunder_import_is_refused_and_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    reason = refused(f'{{"depends": [], "x": __import__("os").system("touch {target}")}}')
    assert "function call `__import__('os').system(...)`" in reason
    assert not target.exists()
    assert "the name `__import__`" in refused('{"x": __import__}')


def test_ten_megabytes_is_refused_by_size(tmp_path: Path) -> None:
    big = b'{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert "limit is 256 KiB" in refused(big)
    path = tmp_path / "__manifest__.py"
    path.write_bytes(big)
    with pytest.raises(ManifestError, match="10,485,779 bytes; the limit is 256 KiB"):
        read_manifest(path)


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("(", ")"), ("{", "}")])
def test_nesting_ten_thousand_deep_is_a_clear_error(opener: str, closer: str) -> None:
    inner = opener * 10_000 + closer * 10_000
    assert "nested deeper than 32 levels" in refused(f'{{"depends": [], "x": {inner}}}')


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"depends": ["base"], "description": "' + "[" * 5000 + '"}'
    assert parse_manifest(text.encode())["depends"] == ["base"]


def test_not_utf8_is_refused() -> None:
    assert refused(b'{"name": "Caf\xe9", "depends": []}') == "is not UTF-8 (byte 0xe9 at offset 13)"


@pytest.mark.parametrize(
    "source,expected",
    [
        ("['base']", "must be a single dict literal"),
        ('{"depends": "base"}', "'depends' must be a list of addon names"),
        ('{"depends": ["../etc"]}', "not a plain addon name"),
        ('{"depends": ["sale; rm -rf /"]}', "not a plain addon name"),
        ('{"depends": [], "installable": "yes"}', "'installable' must be True or False"),
        ('{"depends": [], **other}', "dict unpacking"),
        ('{"depends": [], "x": os.environ}', "attribute access `os.environ`"),
        ('{"depends": [], "x": lambda: 1}', "Lambda"),
        ('{"depends": [], "x": 1 + 2}', "operators"),
        ('{"depends": [], "x": f"{1}"}', "JoinedStr"),
        ('{"depends": [}', "is not a Python literal"),
        ('{1: "x"}', "non-string key"),
        ('{"x": "\x00"}', "NUL byte"),
    ],
)
def test_each_non_literal_shape_has_its_own_error(source: str, expected: str) -> None:
    assert expected in refused(source)


def test_negative_numbers_tuples_and_sets_are_literals() -> None:
    parsed = parse_manifest(b'{"depends": [], "sequence": -1, "t": (1, 2), "s": {"a"}, "n": None}')
    assert parsed == {"depends": [], "sequence": -1, "t": (1, 2), "s": {"a"}, "n": None}


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "__manifest__.py"
    os.mkfifo(fifo)
    with pytest.raises(ManifestError, match="not a regular file"):
        read_manifest(fifo)


def test_size_limit_boundary() -> None:
    body = b'{"depends": []}'
    padded = body + b" " * (MAX_MANIFEST_BYTES - len(body))
    assert parse_manifest(padded) == {"depends": []}
    assert "limit" in refused(padded + b" ")
