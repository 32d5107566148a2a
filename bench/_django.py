"""Shared parts of the benchmarks.

- a fresh PostgreSQL database of their own, migrated (`fresh_database`);
- helpers started from the interpreter that runs the benchmark (`python_module`), never from a
  fixed `.venv/bin`: a bench run with another interpreter measures that interpreter's panel;
- what a benchmark does when it cannot measure (`CannotMeasure`, `run`): a message on stderr,
  exit 1, and no RESULT line; a missed target is not that (exit 0, the RESULT line says it);
- `--write` (`add_write_flag`, `write_section`): bench/RESULTS.md is only touched when asked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
ADMIN_URL = os.environ.get("PANEL_BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


class CannotMeasure(Exception):
    """A part the benchmark measures is missing: no figures rather than made-up ones."""


def fresh_database(name: str) -> str:
    """Drop and create `name`; point Django at it; return its URL."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise CannotMeasure(f"PostgreSQL at {ADMIN_URL} is not reachable: {exc}") from exc
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["PANEL_DATABASE_URL"] = url
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs `python -m module` with this very interpreter, or CannotMeasure."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CannotMeasure(f"{module} is not installed for {sys.executable}")
    return [sys.executable, "-m", module, *args]


def require_program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise CannotMeasure(f"{name} is not installed (not on PATH)")
    return found


def load() -> str:
    """The machine's load, to print next to a figure measured on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def command_line() -> str:
    """The command as it was typed, relative to the checkout, for RESULTS.md."""
    script = Path(sys.argv[0]).resolve()
    with_root = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return " ".join(["python", str(with_root), *sys.argv[1:]])


def add_write_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write", action="store_true", help="replace this benchmark's section of bench/RESULTS.md"
    )


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def wrap(text: str, width: int = 100) -> str:
    """Prose paragraphs wrapped as the rest of RESULTS.md; tables, headings and indented blocks kept."""
    paragraphs = []
    for paragraph in text.rstrip("\n").split("\n\n"):
        if paragraph.startswith(("|", "#", "    ")):
            paragraphs.append(paragraph)
        else:
            flat = " ".join(paragraph.split())
            paragraphs.append(textwrap.fill(flat, width, break_long_words=False, break_on_hyphens=False))
    return "\n\n".join(paragraphs) + "\n"


def write_section(name: str, text: str) -> None:
    """Replace (or add) the `## name` section of bench/RESULTS.md; other sections stay as they are."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head = f"## {name}\n"
    text = wrap(text)
    if head in current:
        before, _, rest = current.partition(head)
        after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        current = before + text + ("\n" + after if after else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(current)
    print(f"wrote the {name} section of {RESULTS}", flush=True)


class Transcript:
    """What a benchmark prints, kept for its --write section (and still printed)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.stdout = sys.stdout

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stdout.write(text)

    def flush(self) -> None:
        self.stdout.flush()

    def text(self) -> str:
        return "".join(self.parts)


def transcript() -> Transcript:
    """Keep a copy of everything printed from now on."""
    kept = Transcript()
    sys.stdout = kept
    return kept


def printed_section(name: str, kept: Transcript, result: str, about: str = "") -> str:
    """A RESULTS.md section for a benchmark without a table of its own: the command, when, the load,
    and what it printed."""
    printed = "\n".join(f"    {line}" if line else "" for line in kept.text().rstrip("\n").splitlines())
    return (
        f"## {name}\n\n`{command_line()}` ({stamp()}; {load()} at the end).{' ' + about if about else ''}\n\n"
        f"What it printed:\n\n{printed}\n\n    {result}\n"
    )


def run(main: Callable[[], str]) -> None:
    """Run a benchmark's main, which returns its RESULT line; print it LAST and exit 0.

    When it could not measure (CannotMeasure, or any error on the way), say why on stderr and exit 1
    without a RESULT line: a pipeline that reads the last line must not take a failure for figures.
    """
    try:
        result = main()
    except CannotMeasure as exc:
        print(f"cannot measure: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except (Exception, KeyboardInterrupt) as exc:
        traceback.print_exc()
        print(f"cannot measure: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(result, flush=True)
    sys.exit(0)
