"""How a benchmark runs, and what it does when it cannot measure.

A benchmark's main returns its RESULT line, which `run` prints LAST (exit 0). When a part it
measures is missing (`CannotMeasure`, raised also by `require_program` and `python_module`) or
anything fails on the way: a message on stderr, exit 1, and no RESULT line. A missed target is not
that: exit 0, and the RESULT line says it. Helpers are started from the interpreter that runs the
benchmark (`python_module`), never from a fixed `.venv/bin`: a bench run with another interpreter
measures that interpreter's panel.
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class CannotMeasure(Exception):
    """A part the benchmark measures is missing: no figures rather than made-up ones."""


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
