"""The audit log from the command line.

    manage.py audit verify [--head HASH] [--anchors FILE]
                                             exit 0 if the chain is intact, 1 naming the first broken row
    manage.py audit anchor                   append the chain's head to the anchor file now (beat does it)
    manage.py audit grants --owner ROLE --panel ROLE
                                             print the PostgreSQL grants that keep the panel's role
                                             from dropping the triggers (for the DBA to run)
    manage.py audit export [--format csv|json] [--output FILE] [--site S] [--actor U] [--action A]
                           [--cluster C] [--since T] [--until T] [--search TEXT]

Commands run with the machine's rights (whoever can run manage.py can read the database anyway),
not a panel role; what they change or export is audited with the actor "cli:<unix user>".
"""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.http import QueryDict

from panel.audit import anchor, grants, record
from panel.audit.export import FORMATS, stream
from panel.audit.query import Filters
from panel.audit.verify import verify
from panel.cli import PanelCommand, command_actor

FILTERS = ("site", "actor", "action", "cluster", "since", "until")


class Command(PanelCommand):
    help = "Verify the audit log's hash chain, anchor its head, print its grants, or export events."
    permissions = {"verify": "view", "export": "view", "anchor": "admin", "grants": "admin"}
    subcommand_dest = "subcommand"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        check = sub.add_parser("verify", help="Recompute the hash chain; exit 1 naming the first broken row.")
        check.add_argument(
            "--head", default="", help="A head hash printed by an earlier verify: fail if it is gone."
        )
        check.add_argument("--anchors", default="", help="An anchor file (default: PANEL_AUDIT_ANCHOR_FILE).")
        sub.add_parser("anchor", help="Append the chain's head to the anchor file now.")
        grant = sub.add_parser("grants", help="Print the PostgreSQL grants for the audit table.")
        grant.add_argument("--owner", required=True, help="The role that owns the table and its triggers.")
        grant.add_argument("--panel", required=True, help="The role the panel connects as.")
        out = sub.add_parser("export", help="Write the (filtered) events, newest first.")
        out.add_argument("--format", choices=sorted(FORMATS), default="csv")
        out.add_argument("--output", "-o", help="File to write (default: standard output).")
        for name in FILTERS:
            out.add_argument(f"--{name}", default="")
        out.add_argument("--search", default="", help="Free text in the target name or detail.")

    def do_verify(self, head: str, anchors: str, **_: Any) -> None:
        path = Path(anchors) if anchors else anchor.default_path()
        result = verify(expect_head=head, anchor_file=path)
        if not result.ok:
            raise CommandError("; ".join(result.problems()), returncode=1)
        self.stdout.write(
            f"ok: {result.checked} events, chain intact, head {result.head or '(empty log)'}; "
            f"{result.anchored} anchors in {path} match"
        )

    def do_anchor(self, **_: Any) -> None:
        line = anchor.write()
        if line is None:
            self.stdout.write("the audit log is empty: nothing to anchor")
            return
        self.stdout.write(f"anchored event #{line['id']} {line['hash']} in {anchor.default_path()}")

    def do_grants(self, owner: str, panel: str, **_: Any) -> None:
        if owner == panel:
            raise CommandError("--owner and --panel must differ: an owner can drop triggers", returncode=2)
        try:
            text = grants.script(owner, panel, grants.sequence(connection))
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(text, ending="")

    def do_export(self, format: str, output: str | None, search: str, **options: Any) -> None:
        query = QueryDict(mutable=True)
        for name in FILTERS:
            query[name] = options[name]
        query["q"] = search
        filters = Filters.parse(query)
        if filters.errors:
            raise CommandError("; ".join(filters.errors), returncode=2)
        record(
            "audit.export",
            actor=command_actor(),
            detail=f"{format} to {output or 'stdout'}: {filters.describe()}",
        )
        target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
        try:
            for chunk in stream(filters, format):
                target.write(chunk)
        finally:
            if output:
                target.close()
            else:
                target.flush()
