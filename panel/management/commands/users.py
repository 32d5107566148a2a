"""Users from the command line: `users add NAME --role ROLE`, `users role NAME ROLE`,
`users deactivate NAME --yes`, `users activate NAME`, `users unlock NAME` (ends a login cool-down,
panel/login_limits.py), `users ensure-admin` (used by `make run`:
reads PANEL_ADMIN_USER / PANEL_ADMIN_PASSWORD, or makes
an `admin` with a generated password kept in var/admin-password and prints it).

Changes go through panel.users.service, like the users page: audited (actor "cli:<unix user>"),
and the last active admin cannot be demoted."""

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from panel.audit import record
from panel.cli import REFUSED, PanelCommand, command_actor, confirmed
from panel.env import env
from panel.login_limits import unlock
from panel.roles import ROLES, ensure_role_groups
from panel.users import service


class Command(PanelCommand):
    help = "Add users, set their role, or make sure an admin login exists."
    permissions = {
        "add": "admin",
        "role": "admin",
        "activate": "admin",
        "deactivate": "admin",
        "unlock": "admin",
        "ensure-admin": "admin",
    }

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser(
            "add", help="Create a user with a role; the password is read from PANEL_NEW_PASSWORD or prompted."
        )
        add.add_argument("username")
        add.add_argument("--role", choices=ROLES, required=True)
        role = sub.add_parser("role", help="Change a user's role.")
        role.add_argument("username")
        role.add_argument("role", choices=ROLES)
        activate = sub.add_parser("activate", help="Let a deactivated user log in again.")
        activate.add_argument("username")
        deactivate = sub.add_parser(
            "deactivate",
            help="Stop a user logging in (their sessions and tokens stop working); never deleted.",
        )
        deactivate.add_argument("username")
        deactivate.add_argument("--yes", action="store_true", help="confirm")
        unlock_parser = sub.add_parser(
            "unlock",
            help="End a user's login cool-down (too many failed logins) and clear their failure counts.",
        )
        unlock_parser.add_argument("username")
        sub.add_parser(
            "ensure-admin", help="Create the first admin if it does not exist and print its login."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_role_groups()
        super().handle(*args, **options)

    def do_add(self, username: str, role: str, **_: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(
                f"user {username!r} exists; use `users role {username} ROLE` to change its role"
            )
        password = os.environ.get("PANEL_NEW_PASSWORD") or self._prompt()
        service.create_user(username, password, role, actor=command_actor())
        self.stdout.write(f"created {username} as {role}")

    def do_role(self, username: str, role: str, **_: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        try:
            service.change_role(user, role, actor=command_actor())
        except service.LastAdminError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{username} is now {role}")

    def _user(self, username: str) -> Any:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}", returncode=REFUSED)
        return user

    def do_activate(self, username: str, **_: Any) -> None:
        self._set_active(self._user(username), True)

    def do_deactivate(self, username: str, yes: bool, **_: Any) -> None:
        user = self._user(username)
        confirmed(yes, f"users deactivate {username}")
        self._set_active(user, False)

    def do_unlock(self, username: str, **_: Any) -> None:
        user = self._user(username)
        was_locked = unlock(user, actor=command_actor())
        self.stdout.write(
            f"{username}: cool-down ended, failure counts cleared"
            if was_locked
            else f"{username} was not in a cool-down; failure counts cleared"
        )

    def _set_active(self, user: Any, active: bool) -> None:
        try:
            done = service.set_active(user, active, actor=command_actor())
        except service.LastAdminError as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        state = "active" if active else "deactivated"
        self.stdout.write(f"{user.get_username()} is {'now ' if done else 'already '}{state}")

    def do_ensure_admin(self, **_: Any) -> None:
        User = get_user_model()
        username = env("PANEL_ADMIN_USER", "admin")
        password = env("PANEL_ADMIN_PASSWORD")
        stored = Path(settings.VAR_DIR) / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                password = secrets.token_urlsafe(12)
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_text(password)
                stored.chmod(0o600)
            user = service.create_user(username, password, "admin", actor=command_actor())
        elif password and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            record(
                "user.password", actor=command_actor(), target=user, detail="reset from PANEL_ADMIN_PASSWORD"
            )
        if not password and stored.exists():
            password = stored.read_text().strip()
        shown = password if password else "(unchanged; set PANEL_ADMIN_PASSWORD to reset it)"
        self.stdout.write(f"admin login: {username} / {shown}")

    def _prompt(self) -> str:
        import getpass

        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise CommandError("the passwords differ")
        return first
