"""requirements.lock pins every dependency of pyproject.toml, each with the sha256 of its files, and
names no index: `make test` and `make run` install from it with --require-hashes (scripts/lib.sh)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)\s*\\?$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, list[str]]:
    """Each pinned package with the hashes listed under it."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            current = _normal(match.group(1))
            pins[current] = []
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current].append(line.strip())
    return pins


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {_normal(re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0]) for req in wanted}


def test_every_declared_dependency_is_pinned_with_hashes() -> None:
    pins = _pins()
    missing = sorted(_declared() - set(pins))
    assert missing == [], f"not in requirements.lock (run `make lock`): {missing}"
    unhashed = sorted(name for name, hashes in pins.items() if not hashes)
    assert unhashed == [], f"pinned without a hash: {unhashed}"


def test_the_lock_names_no_index_of_this_machine() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "--index-url" not in text and "--extra-index-url" not in text and "--find-links" not in text
