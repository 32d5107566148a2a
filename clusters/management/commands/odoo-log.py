"""`manage.py odoo-log judge`: the panel's verdict on an Odoo log (clusters.sites.odoo_log), for CI and
operators.

    odoo-log judge FILE --exit-code N [--mode update|boot] [--modules a,b] --json

prints `{"ok": bool, "reasons": [...], "skipped": [...], "installed": [...], "failed_modules": [...]}`
(the stable contract) and exits 0 when the run is judged ok, 1 when not, 2 on bad input (an unreadable
file, bad arguments), with the reason on stderr in one line.

`--mode update` (the default) judges an `odoo -u/-i ... --stop-after-init` run; with `--modules` (the
modules given to `-u`) it also fails when one of them was not updated, or when the log proves that
modules nobody asked for were installed (`installed`). `--mode boot` judges a plain start (no `-u`/`-i`).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from panel.cli import PanelCommand

BAD_INPUT = 2
_NAME = re.compile(r"^\w+$")


class Command(PanelCommand):
    help = "Judge an Odoo log by its exit code and its lines: exit 0 ok, 1 failed, 2 bad input."
    # A CI pipeline calls this on a file: nothing here depends on the system checks.
    requires_system_checks: list[str] = []
    permissions = {"judge": "view"}  # a judge reads a file: every role may run it

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        judge = sub.add_parser("judge", help="the verdict on one log: exit 0 ok, 1 failed, 2 bad input")
        judge.add_argument("file", metavar="FILE", help="the log (stdout and stderr of the odoo run)")
        judge.add_argument("--exit-code", type=int, required=True, help="odoo's exit code")
        judge.add_argument(
            "--mode",
            choices=("update", "boot"),
            default="update",
            help="update: an `odoo -u/-i` run (default); boot: a plain start",
        )
        judge.add_argument("--modules", help="comma-separated modules given to `-u` (update mode)")
        judge.add_argument("--json", action="store_true", help="print JSON (the stable contract)")

    def do_judge(self, **options: Any) -> None:
        from clusters.sites.odoo_log import MODES, judge

        mode = options["mode"]
        if mode not in MODES:  # argparse refuses it on the command line; call_command does not check
            raise CommandError(
                f"--mode must be one of {', '.join(MODES)}, not {mode!r}", returncode=BAD_INPUT
            )
        modules = _modules(options["modules"], mode)
        lines = _read(options["file"])
        verdict = judge(options["exit_code"], lines, mode=mode, modules=modules)
        payload = verdict.contract()
        if options["json"]:
            self.stdout.write(json.dumps(payload, separators=(",", ":")))
        else:
            self.stdout.write("OK" if verdict.ok else "FAILED")
            for reason in verdict.reasons:
                self.stdout.write(f"  - {reason}")
            for key in ("skipped", "installed", "failed_modules"):
                if payload[key]:
                    self.stdout.write(f"  {key}: {', '.join(payload[key])}")
        if not verdict.ok:
            sys.stdout.flush()
            self.stdout.flush()
            sys.exit(1)


def _modules(value: str | None, mode: str) -> list[str] | None:
    if value is None:
        return None
    if mode != "update":
        raise CommandError("--modules applies to --mode update only", returncode=BAD_INPUT)
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if not _NAME.match(n)]
    if not names or bad:
        raise CommandError(
            f"--modules: give plain module names separated by commas (got {value!r})", returncode=BAD_INPUT
        )
    return names


def _read(path: str) -> list[str]:
    """The log's lines, or exit 2 in one line: a file that cannot be read is bad input, never a verdict."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        raise CommandError(f"cannot read {where}: {exc.strerror or exc}", returncode=BAD_INPUT) from None
