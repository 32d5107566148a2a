"""Roles on the command line: the same check as the pages (panel/roles.py), for every command.

Whoever runs `manage.py` on the panel's host already holds its database and its encryption key,
so a command run plainly acts as the machine's operator (audited as `cli:<unix user>`). A CI job
or a shared shell that should act as a panel user says so with `--as USER` (before the
subcommand) or PANEL_CLI_USER: the user must exist and be active, their role must allow the
subcommand (refused with exit 2 otherwise, nothing done), and the audit log records them.

Each command declares what each subcommand needs in `permissions`; the permission matrix test
checks that every subcommand of every panel command is declared.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from panel.audit.context import acting_as, acting_user, command_actor
from panel.roles import ACTIONS, ROLES, can, role_of

REFUSED = 2
WHOLE = ""  # the key of `permissions` for a command without subcommands


class PanelCommand(BaseCommand):
    """A management command whose subcommands are checked against the acting user's role."""

    permissions: dict[str, str] = {}  # subcommand (or WHOLE) -> "view" | "operate" | "approve" | "admin"
    subcommand_dest = "action"

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--as",
            dest="acting_as",
            metavar="USER",
            default=os.environ.get("PANEL_CLI_USER", ""),
            help="act as this panel user: their role must allow the action, and the audit log names them "
            "(default: PANEL_CLI_USER, else the machine's operator)",
        )
        return parser

    def required_action(self, options: dict[str, Any]) -> str:
        """The role a subcommand needs; a nested one (`cluster edge deploy`, its parser's dest
        `edge_action`) is declared as "edge deploy"."""
        name = options.get(self.subcommand_dest) or WHOLE
        nested = options.get(f"{name}_action")
        return self.permissions[f"{name} {nested}" if nested else name]

    def execute(self, *args: Any, **options: Any) -> Any:
        username = (options.get("acting_as") or "").strip()
        if not username:
            return super().execute(*args, **options)
        user = resolve_user(username)
        check(user, self.required_action(options), self.label(options))
        with acting_as(user):
            return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run `do_<subcommand>` (dashes as underscores) with the remaining options."""
        action = options.pop(self.subcommand_dest)
        getattr(self, f"do_{action.replace('-', '_')}")(**options)

    def label(self, options: dict[str, Any]) -> str:
        name = self.__module__.rsplit(".", 1)[-1]
        sub = options.get(self.subcommand_dest)
        nested = options.get(f"{sub}_action") if sub else None
        return " ".join(part for part in (name, sub, nested) if part)


def resolve_user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active:
        raise CommandError(f"--as {username}: no active panel user of that name", returncode=REFUSED)
    return user


def check(user: Any, action: str, what: str) -> None:
    if not can(user, action):
        held = role_of(user) or "no role"
        needed = ROLES[list(ACTIONS).index(action)]
        raise CommandError(
            f"{user.get_username()} ({held}) may not run `{what}`: it needs the {needed} role or above",
            returncode=REFUSED,
        )


def actor_may(action: str) -> bool:
    """Whether the command's actor may do `action` inside a subcommand they may run: the machine's
    operator may do anything (as with the subcommands), an `--as` user what their role allows."""
    user = acting_user()
    return user is None or can(user, action)


def confirmed(yes: bool, what: str) -> None:
    """A destructive subcommand runs only with --yes (the page's confirmation): refused otherwise,
    exit 2, nothing changed."""
    if not yes:
        raise CommandError(
            f"{what} cannot be undone: add --yes to do it (nothing was changed)", returncode=REFUSED
        )


def delete_confirmed(obj: Any, yes: bool, what: str) -> None:
    """Delete a row as a page's delete button does (panel.crud: the same audit row), only with --yes;
    refused with what still depends on it when the database protects it."""
    from django.db.models import ProtectedError

    from panel import crud

    confirmed(yes, what)
    try:
        crud.delete_object(obj, actor=command_actor())
    except ProtectedError as exc:
        raise CommandError(
            f"{obj} cannot be deleted while these depend on it: {crud.blockers(exc)} (nothing was changed)",
            returncode=REFUSED,
        ) from exc


def panel_user(what: str) -> Any:
    """The `--as` user, for actions that must name a person (four eyes, a token's owner)."""
    user = acting_user()
    if user is None:
        raise CommandError(
            f"{what} acts as a panel user: give --as USER (or PANEL_CLI_USER)", returncode=REFUSED
        )
    return user


def form_data(instance: Any, form_class: Any, blank: tuple[str, ...] = ()) -> dict[str, Any]:
    """A model form's POST data as the page would send it for `instance` unchanged; fields in
    `blank` are sent empty (stored secrets, which the forms keep when left blank)."""
    from django.forms.models import model_to_dict

    fields = form_class._meta.fields
    data = {k: v for k, v in model_to_dict(instance, fields=fields).items() if v is not None}
    for name in blank:
        data[name] = ""
    return data


def save_form(form: Any, what: str) -> Any:
    """Validate a page's form and save it the way the page does (panel.crud: one audit row, in the
    same transaction), as the command's actor; the form's errors, exit 2, when it is not valid."""
    from panel import crud

    if not form.is_valid():
        raise CommandError(f"{what}: {form_errors(form)}", returncode=REFUSED)
    return crud.save_form(None, form, actor=command_actor())


def form_errors(form: Any) -> str:
    return "; ".join(
        f"{'' if field == '__all__' else field + ': '}{' '.join(errors)}"
        for field, errors in form.errors.items()
    )
