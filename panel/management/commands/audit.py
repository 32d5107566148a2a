"""The audit log from the command line.

    manage.py audit verify [--head HASH]     exit 0 if the chain is intact, 1 naming the first broken row
    manage.py audit export [--format csv|json] [--output FILE] [--site S] [--actor U] [--action A]
                           [--cluster C] [--since T] [--until T] [--search TEXT]

Commands run with the machine's rights (whoever can run manage.py can read the database anyway),
not a panel role; what they change or export is audited with the actor "cli:<unix user>".
"""

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.http import QueryDict

from panel.audit import record
from panel.audit.export import FORMATS, stream
from panel.audit.query import Filters
from panel.audit.verify import verify
from panel.cli import PanelCommand, command_actor

FILTERS = ("site", "actor", "action", "cluster", "since", "until")


class Command(PanelCommand):
    help = "Verify the audit log's hash chain, or export events as CSV or JSON."
    permissions = {"verify": "view", "export": "view"}
    subcommand_dest = "subcommand"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        check = sub.add_parser("verify", help="Recompute the hash chain; exit 1 naming the first broken row.")
        check.add_argument(
            "--head", default="", help="A head hash printed by an earlier verify: fail if it is gone."
        )
        out = sub.add_parser("export", help="Write the (filtered) events, newest first.")
        out.add_argument("--format", choices=sorted(FORMATS), default="csv")
        out.add_argument("--output", "-o", help="File to write (default: standard output).")
        for name in FILTERS:
            out.add_argument(f"--{name}", default="")
        out.add_argument("--search", default="", help="Free text in the target name or detail.")

    def do_verify(self, head: str, **_: Any) -> None:
        result = verify(expect_head=head)
        if not result.ok:
            raise CommandError("; ".join(result.problems()), returncode=1)
        self.stdout.write(f"ok: {result.checked} events, chain intact, head {result.head or '(empty log)'}")

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
