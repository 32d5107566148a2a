"""`token create|revoke|list`: the API tokens page, for automation.

    manage.py token --as olga create "CI of the acme addons" [--scope check|submit] [--site SLUG]
        [--expires-in-days N | --expires-on YYYY-MM-DD] [--json]     # the secret is printed once
    manage.py token create NAME --user olga [--json]    # the machine's operator makes one for a user
    manage.py token --as olga revoke ID --yes
    manage.py token list [--user olga] [--json]

As on the page, a user makes, lists and revokes their own tokens (`--as USER`, any role: a token acts
with its user's role); run plainly, the machine's operator may name any user with `--user` and revoke
any token. The same form and functions as the page (clusters.approvals.tokens): scope "check" and 90
days unless told, at most 365 days, at most 50 live tokens per user, the secret stored only as its
sha256, the same audit rows. `--json` for create prints {"id", "name", "prefix", "user", "scope",
"site", "expires_at", "token"}. An unknown token, user or site, or a bad expiry: exit 2, nothing changed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from clusters.approvals import tokens
from clusters.approvals.forms import TokenForm
from clusters.approvals.models import ApiToken
from panel.cli import REFUSED, PanelCommand, acting_user, command_actor, confirmed, form_errors, resolve_user


class Command(PanelCommand):
    help = "Create, revoke and list API tokens."
    permissions = {"create": "view", "revoke": "view", "list": "view"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new token; its secret is printed once")
        create.add_argument("name", help="where it will be used, e.g. 'CI of the acme addons'")
        create.add_argument("--scope", default="", help="check (default: dry runs and reads) or submit")
        create.add_argument("--site", default="", help="the one site it may act on (default: any)")
        create.add_argument("--expires-in-days", default="", help="default 90, at most 365")
        create.add_argument("--expires-on", default="", help="or the day it stops working, YYYY-MM-DD")
        revoke = sub.add_parser("revoke", help="requests with it get 401 from now on")
        revoke.add_argument("token_id", type=int)
        revoke.add_argument("--yes", action="store_true", help="confirm")
        ls = sub.add_parser("list")
        for p in (create, revoke, ls):
            p.add_argument("--user", help="the owner (run plainly: any user; with --as: only yourself)")
        for p in (create, ls):
            p.add_argument("--json", action="store_true", dest="as_json")

    def _owner(self, username: str | None, required: bool) -> Any:
        """Whose tokens: the --as user (only theirs), else --user for the machine's operator."""
        me = acting_user()
        if me is not None:
            if username and username != me.get_username():
                raise CommandError(
                    f"{me.get_username()} may only manage their own tokens, not {username}'s",
                    returncode=REFUSED,
                )
            return me
        if username:
            return resolve_user(username)
        if required:
            raise CommandError("whose token? give --user USER (or --as USER)", returncode=REFUSED)
        return None

    def do_create(self, name: str, user: str | None, as_json: bool, **options: Any) -> None:
        owner = self._owner(user, required=True)
        fields = ("scope", "site", "expires_in_days", "expires_on")
        form = TokenForm({"name": name, **{f: options[f] for f in fields}})
        if full := tokens.no_room(owner):
            form.add_error(None, full)
        if not form.is_valid():
            raise CommandError(f"token create: {form_errors(form)}", returncode=REFUSED)
        data = form.cleaned_data
        token, secret = tokens.create(
            owner,
            data["name"],
            scope=data["scope"],
            site=data["site"],
            expires_at=data["expires_at"],
            actor=command_actor(),
        )
        if as_json:
            row = {"id": token.pk, "name": token.name, "prefix": token.prefix, "user": owner.get_username()}
            self.stdout.write(json.dumps({**row, **tokens.reach(token), "token": secret}))
            return
        reach = f"scope {token.scope}, {token.site or 'any site'}, expires {tokens.when(token.expires_at)}"
        self.stdout.write(f"token {token.pk} ({token.name}) for {owner.get_username()}, {reach}; shown once:")
        self.stdout.write(secret)

    def do_revoke(self, token_id: int, yes: bool, user: str | None, **_: Any) -> None:
        owner = self._owner(user, required=False)
        found = ApiToken.objects.select_related("user").filter(pk=token_id)
        if owner is not None:
            found = found.filter(user=owner)
        token = found.first()
        if token is None:
            mine = f" of {owner.get_username()}" if owner is not None else ""
            raise CommandError(f"no token {token_id}{mine}; `token list` shows them", returncode=REFUSED)
        confirmed(yes, f"token revoke {token_id}")
        if tokens.revoke(token, actor=command_actor()):
            self.stdout.write(f"revoked {token}: requests with it now get 401")
        else:
            self.stdout.write(f"{token} was already revoked")

    def do_list(self, user: str | None, as_json: bool, **_: Any) -> None:
        owner = self._owner(user, required=False)
        found = ApiToken.objects.select_related("user", "site").order_by("-pk")
        if owner is not None:
            found = found.filter(user=owner)
        rows = [
            {
                "id": t.pk,
                "name": t.name,
                "prefix": t.prefix,
                "user": t.user.get_username(),
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None,
                **tokens.reach(t),
                "expired": t.is_expired,
            }
            for t in found[:500]
        ]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            state = "revoked" if r["revoked"] else "expired" if r["expired"] else "live"
            where = r["site"] or "any site"
            line = f"{r['id']:>6}  {r['prefix']}…  {state:<8} {r['scope']:<7} {where:<12} {r['user']:<16}"
            self.stdout.write(f"{line} {r['name']} (until {r['expires_at'][:16].replace('T', ' ')})")
