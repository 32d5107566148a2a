"""`manage.py gate closure|check`: the approval gate for CI pipelines and operators
(the command line is a contract: its JSON and exit codes stay stable).

    gate closure --addons-path DIR[,DIR...] --series 17.0 [--select a,b] --json
    gate check   --addons-path DIR[,DIR...] --series 17.0 --installed FILE|--site SLUG [--select a,b] --json

`check` exits 0 when the change may pass, 1 when it is blocked, 2 on bad input (with the reason on
stderr; an unreadable or missing path is bad input too, for both commands). With `--site`, depends
added/removed compare with the site's current depends, as the panel's change page and API do.
`--archive FILE` (.zip/.tar.gz) adds an uploaded change, unpacked into a temporary folder, in front of
the addons paths. The FILE formats of `--installed` are documented in clusters/approvals/gate/installed.py.

Imports of the engine happen inside handle(): this module is loaded for every `manage.py` call.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from clusters.approvals.gate.addons import addon_dirs_under, discover_addons, split_addons_path
from clusters.approvals.gate.archive import unpack_archive
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.installed import installed_from_names, load_installed
from clusters.approvals.gate.report import closure_report
from clusters.approvals.gate.verdict import check_change, exit_code
from clusters.approvals.intake import check_for_site
from clusters.models import Site
from panel.cli import PanelCommand

BAD_INPUT = 2


class Command(PanelCommand):
    help = "Dependency closure of addons, and the approval gate's verdict for a manifest change."
    # No system checks: a CI pipeline calls this on every push, and nothing here depends on them.
    requires_system_checks: list[str] = []
    permissions = {"closure": "view", "check": "view"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        closure = sub.add_parser("closure", help="direct depends, transitive closure and missing, per addon")
        check = sub.add_parser(
            "check", help="may this change reach the site? exit 0 pass, 1 blocked, 2 bad input"
        )
        for p in (closure, check):
            p.add_argument("--addons-path", default="", help="comma-separated addons folders; first one wins")
            p.add_argument("--archive", help="a .zip or .tar.gz of addons, searched before --addons-path")
            p.add_argument("--series", required=True, help="Odoo series, e.g. 17.0")
            p.add_argument("--select", help="comma-separated addons (default: every addon found)")
            p.add_argument("--json", action="store_true", help="print JSON (the stable contract)")
        source = check.add_mutually_exclusive_group(required=True)
        source.add_argument("--installed", metavar="FILE", help="installed modules: JSON list/object or text")
        source.add_argument("--site", metavar="SLUG", help="use the site's stored installed-modules snapshot")
        check.add_argument(
            "--current-addons-path", help="the site's current addons, for depends added/removed"
        )
        check.add_argument(
            "--strict",
            action="store_true",
            help="also block addons not installed on the site that --select does not name",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with _Sources(options) as paths:
                if options["action"] == "closure":
                    self._closure(paths, options)
                else:
                    self._check(paths, options)
        except GateError as exc:
            raise CommandError(str(exc), returncode=BAD_INPUT) from None
        except OSError as exc:
            raise CommandError(_unreadable(exc), returncode=BAD_INPUT) from None

    def _closure(self, paths: list[str], options: dict[str, Any]) -> None:
        report = closure_report(paths, options["series"], _names(options["select"]))
        if options["json"]:
            self._json(report)
            return
        for name, entry in report["addons"].items():
            missing = f"  MISSING: {', '.join(entry['missing'])}" if entry["missing"] else ""
            self.stdout.write(f"{name}: {', '.join(entry['closure']) or '-'}{missing}")

    def _check(self, paths: list[str], options: dict[str, Any]) -> None:
        verdict = _verdict(paths, options)
        if options["json"]:
            self._json(verdict)
        else:
            self._summary(verdict)
        code = exit_code(verdict)
        if code:
            sys.stderr.write(f"gate: blocked: {', '.join(verdict['blocked'])}\n")
            sys.stdout.flush()
            sys.exit(code)

    def _json(self, payload: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(payload, separators=(",", ":")))

    def _summary(self, verdict: dict[str, Any]) -> None:
        self.stdout.write("PASS" if verdict["passes"] else "BLOCKED")
        for name in verdict["blocked"]:
            entry = verdict["addons"][name]
            self.stdout.write(f"{name}:")
            for reason in entry["reasons"]:
                self.stdout.write(f"  - {reason}")
            self.stdout.write(f"  installed modules Odoo would skip: {', '.join(entry['blast_radius'])}")


class _Sources:
    """The addons paths to scan: an unpacked --archive first (removed on exit), then --addons-path."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.unpacked: Any = None

    def __enter__(self) -> list[str]:
        paths = split_addons_path(self.options["addons_path"])
        if self.options["archive"]:
            self.unpacked = unpack_archive(self.options["archive"])
            found = addon_dirs_under(self.unpacked.root)
            if not found:
                raise GateError(f"no addon (a folder with __manifest__.py) in {self.options['archive']}")
            paths = found + paths
        if not paths:
            raise GateError("give --addons-path DIR[,DIR...] (or --archive FILE)")
        return paths

    def __exit__(self, *exc: object) -> None:
        if self.unpacked is not None:
            self.unpacked.cleanup()


def _unreadable(exc: OSError) -> str:
    """One line for a path the engine could not read (a folder it may not list, an I/O error): it is
    bad input, exit 2, never a traceback with exit 1, which a pipeline would read as "blocked"."""
    where = exc.filename if exc.filename is not None else "input"
    return f"cannot read {where}: {exc.strerror or exc}"


def _verdict(paths: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """With --site (and no --current-addons-path), the verdict the panel's page and API give for the
    same change: depends added/removed against the site's current depends (clusters.approvals.intake)."""

    select, series, strict = _names(options["select"]), options["series"], options["strict"]
    if options["site"] and not options["current_addons_path"]:
        site = _site_row(options["site"])
        installed = _installed_of(site)
        return check_for_site(site, paths, series, installed, select=select, strict=strict)
    installed = load_installed(options["installed"]) if options["installed"] else _site(options["site"])
    current = None
    if options["current_addons_path"]:
        current = discover_addons(options["current_addons_path"]).depends_map()
    return check_change(paths, series, installed, select=select, current_depends=current, strict=strict)


def _names(value: str | None) -> list[str] | None:
    return None if value is None else [n for n in value.split(",") if n.strip()]


def _site(slug: str) -> Any:
    """The site's installed modules as last read from its database by a job, or exit 2 saying why not."""
    return _installed_of(_site_row(slug))


def _site_row(slug: str) -> Any:
    """The site, or GateError (exit 2) when it is unknown or the sites cannot be read."""

    try:
        site = Site.objects.filter(slug=slug).first()
    except (ImportError, DatabaseError) as exc:
        raise GateError(f"site {slug} unknown (cannot read sites: {exc})") from None
    if site is None:
        raise GateError(f"site {slug} unknown")
    return site


def _installed_of(site: Any) -> Any:
    """`Site.installed_modules` holds every ir_module_module row as name -> [state, latest_version];
    only state `installed` counts. `Site.modules_read_at` dates the read, and the verdict shows it.
    """

    if not getattr(site, "installed_modules", None):
        raise GateError(f"no installed-modules snapshot for site {site.slug}; read it first")
    return installed_from_names(site.installed_for_gate(), site.modules_read_at, source=f"site:{site.slug}")
