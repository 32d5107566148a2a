"""Cleaning log text before anyone stores or shows it.

Odoo, pip and docker print colour codes and progress bars; a browser would show them as garbage, and
one minified-JS line of 2 MB would make a page unusable. So every line is cleaned once, where it
enters the log: terminal escapes and control characters removed, carriage-return progress bars
reduced to what the terminal would show last, very long lines cut with a visible mark.
HTML escaping is *not* done here: it happens where HTML is made (templates, jobs/logs/html.py).
"""

import re

MAX_LINE = 4000

# CSI (colours, cursor moves), OSC (window titles, hyperlinks) and the lone two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# Control characters other than tab; \r is handled before this runs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def cut(line: str, limit: int = MAX_LINE) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]} …[cut {len(line) - limit} chars]"


def clean_line(line: str, limit: int = MAX_LINE) -> str:
    """One physical line (no \\n) made safe to store and show."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if "\r" in line:
        # A progress bar redraws with \r: keep what the terminal would show at the end.
        parts = [p for p in line.split("\r") if p]
        line = parts[-1] if parts else ""
    if _CONTROL.search(line):
        line = _CONTROL.sub("", line)
    return cut(line.rstrip(), limit)


def split_lines(text: str, limit: int = MAX_LINE) -> list[str]:
    """Text as the lines it holds, each cleaned; a trailing newline makes no empty last line."""
    if text.endswith("\n"):
        text = text[:-1]
    return [clean_line(part, limit) for part in text.split("\n")]
