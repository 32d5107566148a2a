"""Notification channels from the command line (README "Notifications"):

    notify add NAME --url URL [--secret S] [--events a,b] [--site S | --cluster C]
    notify test NAME          exit 0 delivered, 1 not delivered
    notify list [--json]
    notify remove NAME

An http(s) URL is a signed webhook (its secret given, or generated and printed once); any other
scheme is an Apprise URL (mailto://, slack://, json://, …). Bad input exits 2, nothing changed.
Changes go through the page's form and panel.crud (the same audit rows)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from panel import crud
from panel.cli import REFUSED, PanelCommand, command_actor, form_errors
from panel.notify import service
from panel.notify.catalog import EVENTS, default_events
from panel.notify.forms import ChannelForm
from panel.notify.models import Channel


class Command(PanelCommand):
    help = "Add, test, list and remove notification channels."
    permissions = {"add": "admin", "test": "admin", "list": "admin", "remove": "admin"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a channel: a signed webhook (http[s]://) or an Apprise URL.")
        add.add_argument("name")
        add.add_argument("--url", required=True)
        add.add_argument(
            "--secret", default="", help="webhooks: the HMAC key (default: generated, printed once)"
        )
        add.add_argument("--events", default="", help=f"comma-separated, of: {', '.join(EVENTS)}")
        scope = add.add_mutually_exclusive_group()
        scope.add_argument("--site", default="", help="only this site's events")
        scope.add_argument("--cluster", default="", help="only this cluster's events (and its sites')")
        test = sub.add_parser("test", help="Send a test notice now; exit 0 when delivered.")
        test.add_argument("name")
        listing = sub.add_parser("list", help="List channels (URLs masked).")
        listing.add_argument("--json", action="store_true")
        remove = sub.add_parser("remove", help="Remove a channel and its delivery history.")
        remove.add_argument("name")

    def do_add(
        self, name: str, url: str, secret: str, events: str, site: str, cluster: str, **_: Any
    ) -> None:
        wanted = [e.strip() for e in events.split(",") if e.strip()] if events else default_events()
        data: dict[str, Any] = {"name": name, "url": url, "secret": secret, "events": wanted, "enabled": "on"}
        if site:
            data["site"] = _pk(Channel, "site", "slug", site)
        if cluster:
            data["cluster"] = _pk(Channel, "cluster", "name", cluster)
        form = ChannelForm(data)
        if not form.is_valid():
            raise CommandError(f"notify add: {form_errors(form)}", returncode=REFUSED)
        channel = crud.save_form(None, form, actor=command_actor())
        self.stdout.write(f"added {channel.name} ({channel.get_kind_display()}, scope {channel.scope})")
        if form.generated_secret:
            self.stdout.write(f"secret (shown once): {form.generated_secret}")

    def do_test(self, name: str, **_: Any) -> None:
        delivery = service.send_test(_channel(name))
        if delivery.status != "sent":
            raise CommandError(f"not delivered: {delivery.last_error}", returncode=1)
        self.stdout.write(f"delivered to {name}")

    def do_list(self, json: bool = False, **_: Any) -> None:
        channels = [service.as_dict(c) for c in Channel.objects.select_related("cluster", "site")]
        if json:
            self.stdout.write(_dumps(channels))
            return
        for c in channels:
            state = "enabled" if c["enabled"] else "disabled"
            self.stdout.write(f"{c['name']:<24} {c['kind']:<8} {c['url']:<36} {c['scope']:<20} {state}")

    def do_remove(self, name: str, **_: Any) -> None:
        crud.delete_object(_channel(name), actor=command_actor())
        self.stdout.write(f"removed {name}")


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2)


def _channel(name: str) -> Channel:
    channel = Channel.objects.filter(name=name).first()
    if channel is None:
        raise CommandError(f"no channel named {name!r} (see `notify list`)", returncode=REFUSED)
    return channel


def _pk(model: type[Channel], field: str, lookup: str, value: str) -> int:
    related = model._meta.get_field(field).related_model
    found = related._default_manager.filter(**{lookup: value}).values_list("pk", flat=True).first()  # type: ignore[union-attr]
    if found is None:
        raise CommandError(f"no {field} named {value!r}", returncode=REFUSED)
    return int(found)
