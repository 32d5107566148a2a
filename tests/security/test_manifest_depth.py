"""A manifest that would make the parser or the literal walker recurse deeply is refused with a
ManifestError (a 400 on the page and the API, exit 2 in the CLI), never a RecursionError (a 500).

Every construct that nests without brackets is tried, short enough that CPython's parser accepts
it and as long as the size limit allows, and once more from a deep Python stack (a view runs under
Django's middleware, a job under Celery's frames)."""

from __future__ import annotations

import ast
import html
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clusters.approvals import tokens
from clusters.approvals.gate.errors import ManifestError
from clusters.approvals.gate.manifest import MAX_MANIFEST_BYTES, parse_manifest
from clusters.approvals.models import ManifestChange
from tests import factories
from tests.changes.conftest import upload, zip_bytes

ROOT = Path(__file__).resolve().parents[2]

# Each builds an expression of n steps that nests n levels deep without a bracket level per step.
CHAINS: dict[str, Callable[[int], str]] = {
    "attribute": lambda n: "x" + ".y" * n,
    "call": lambda n: "x" + "()" * n,
    "subscript": lambda n: "x" + "[0]" * n,
    "method-call": lambda n: "x" + ".y()" * n,
    "string-subscript": lambda n: "'a'" + "[0]" * n,
    "string-call": lambda n: "'a'" + "('b')" * n,
    "tuple-call": lambda n: "()" + "()" * n,
    "list-subscript": lambda n: "[0]" + "[0]" * n,
    "dict-subscript": lambda n: "{}" + "[0]" * n,
    "unary-minus": lambda n: "-" * n + "1",
    "unary-mixed": lambda n: "+-" * n + "1",
    "invert": lambda n: "~" * n + "1",
    "not": lambda n: "not " * n + "1",
    "sum": lambda n: "+".join(["1"] * n),
    "difference": lambda n: "1" + "-1" * n,
    "power": lambda n: "**".join(["2"] * n),
    "product": lambda n: "*".join(["2"] * n),
    "compare": lambda n: "<".join(["1"] * n),
    "and": lambda n: " and ".join(["1"] * n),
    "conditional": lambda n: "1 if 1 else " * n + "1",
    "conditional-glued": lambda n: "1if 1else " * n + "1",
    "lambda": lambda n: "lambda:" * n + "1",
    "await": lambda n: "await " * n + "1",
    "f-string": lambda n: "f'{x" + ".y" * n + "}'",
    "f-string-unary": lambda n: "f'{" + "-" * n + "1}'",
}


def manifest(expression: str) -> bytes:
    return ("{'depends': [], 'x': " + expression + "}").encode()


def longest(build: Callable[[int], str]) -> bytes:
    """The chain as long as the size limit allows (100,000 steps at most)."""
    step = len(build(2)) - len(build(1))
    return manifest(build(min(100_000, (MAX_MANIFEST_BYTES - 64) // step)))


def refusal(data: bytes) -> str:
    try:
        parse_manifest(data, "evil/__manifest__.py")
    except ManifestError as exc:
        return exc.reason
    raise AssertionError("accepted")


def at_depth(frames: int, fn: Callable[[], Any]) -> Any:
    return fn() if frames <= 0 else at_depth(frames - 1, fn)


@pytest.mark.parametrize("size", [40, 300, 1000, 3000, "limit"])
@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_every_deep_chain_is_a_manifest_error(kind: str, size: int | str) -> None:
    build = CHAINS[kind]
    data = longest(build) if size == "limit" else manifest(build(int(size)))
    assert len(data) <= MAX_MANIFEST_BYTES
    assert refusal(data)  # not a RecursionError, a MemoryError or anything else


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_deep_chains_are_refused_from_a_deep_stack(kind: str) -> None:
    data = manifest(CHAINS[kind](1000))
    frames = sys.getrecursionlimit() - 120  # what is left to a view deep inside middleware
    assert at_depth(frames, lambda: refusal(data))


def test_the_example_of_the_issue_says_what_is_wrong() -> None:
    reason = refusal(b"{'a': x" + b".y" * 100_000 + b"}")
    assert reason.startswith("line 1: ")
    assert "operators" in reason and "only literals" in reason


def test_a_long_chain_names_its_line() -> None:
    reason = refusal(b"{'depends': [],\n 'name': 'A',\n 'x': x" + b".y" * 1000 + b"}")
    assert reason.startswith("line 3: ")


def test_a_short_expression_keeps_its_precise_message() -> None:
    assert "attribute access `os.environ`" in refusal(b"{'depends': [], 'x': os.environ}")
    assert "a function call `open(...)`" in refusal(b"{'depends': [], 'x': open('/etc/passwd')}")


# Literals that look like chains to a careless scanner: accepted, with literal_eval's value.
LOOKALIKES = [
    "'a' " * 20_000,
    "'x.y.y.y(not lambda) # ' '''not not\n''' " + r"r'\\' '\'' " + '"\\"" ' + "'#'",
    "[" + ", ".join(["-1", "+2", "-1.5e-3", "0x1F", "1_000", ".5", "1.", "- 7", "(\n-1)"] * 500) + "]",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_long_literals_still_parse(text: str) -> None:
    head = b"# -*- coding: utf-8 -*-\n# not not not lambda x.y\n{'depends': [], 'x': "
    assert parse_manifest(head + text.encode() + b"}")["x"] == ast.literal_eval(text)


@pytest.fixture
def site(db: None):  # type: ignore[no-untyped-def]
    return factories.site(
        factories.cluster(name="prod"),
        slug="acme",
        series="17.0",
        installed_modules={"base": ["installed", "17.0.1.0.0"]},
        module_depends={"base": []},
        modules_read_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
    )


def evil_zip() -> bytes:
    return zip_bytes(
        {
            "addons/evil/__manifest__.py": b"{'depends': ['base'], 'x': x" + b".y" * 1000 + b"}",
            "addons/evil/__init__.py": b"",
        }
    )


@pytest.mark.django_db
def test_the_page_answers_400_with_the_reason(personas, site) -> None:  # type: ignore[no-untyped-def]
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]), {"archive": upload(evil_zip()), "action": "submit"}
    )
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "addons/evil/__manifest__.py" in page and "only literals" in page
    assert not ManifestChange.objects.exists()


@pytest.mark.django_db
def test_the_api_answers_400_with_the_reason(personas, site) -> None:  # type: ignore[no-untyped-def]
    token = tokens.create(personas.users["operator"], "ci", scope="submit")[1]
    response = Client().post(
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(evil_zip())},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    body = response.json()
    assert [e["path"] for e in body["errors"]] == ["addons/evil/__manifest__.py"]
    assert "only literals" in body["errors"][0]["message"]
    assert not ManifestChange.objects.exists()


def test_the_cli_exits_2_with_the_reason(tmp_path: Path) -> None:
    addon = tmp_path / "addons" / "evil"
    addon.mkdir(parents=True)
    (addon / "__init__.py").write_text("")
    (addon / "__manifest__.py").write_bytes(b"{'depends': ['base'], 'x': x" + b".y" * 1000 + b"}")
    done = subprocess.run(
        [sys.executable, "manage.py", "gate", "closure", "--addons-path", str(tmp_path / "addons")]
        + ["--series", "17.0", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "evil/__manifest__.py" in done.stderr and "only literals" in done.stderr
    assert "Traceback" not in done.stderr
