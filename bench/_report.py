"""The figures a benchmark prints, and its section of bench/RESULTS.md.

- timing and summing up: `timed_ms`, `percentile`, `nearest_rank`, `load` (the machine is shared:
  a figure is printed with the load it was measured under);
- printing: `say` (flushed at once, so that a long run shows its progress), `met` for a target;
- `--write` (`add_write_flag`, `write_section`): bench/RESULTS.md is only touched when asked; a
  benchmark without a table of its own writes what it printed (`transcript`, `printed_section`).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench._run import ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"


def say(text: str) -> None:
    print(text, flush=True)


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def timed_ms(fn: Callable[[Any], object], samples: Iterable[Any]) -> list[float]:
    """Milliseconds of `fn(sample)` for each sample."""
    times = []
    for sample in samples:
        started = time.perf_counter()
        fn(sample)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], pct: float) -> float:
    """The value nearest to the `pct` point of the sorted values (first 0, last 100)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def nearest_rank(values: list[float], q: float) -> float:
    """The `q` percentile by nearest rank (the value with `q`% of the values at or below it); NaN for
    no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load() -> str:
    """The machine's load, to print next to a figure measured on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def command_line() -> str:
    """The command as it was typed, relative to the checkout, for RESULTS.md."""
    script = Path(sys.argv[0]).resolve()
    with_root = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return " ".join(["python", str(with_root), *sys.argv[1:]])


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's parser, with its docstring as the --help text, laid out as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


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
