"""Notification channels from the command line (README "Notifications"):

    notify add NAME --url URL [--secret S] [--events a,b] [--site S | --cluster C]
    notify test NAME          exit 0 delivered, 1 not delivered
    notify list [--json]
    notify edit NAME [--url URL] [--secret S | --rotate-secret] [--events a,b]
                     [--site S | --cluster C | --everywhere]     what is omitted stays
    notify enable NAME | notify disable NAME
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
from panel.notify.forms import ChannelEditForm, ChannelForm
from panel.notify.models import Channel


class Command(PanelCommand):
    help = "Add, edit, test, list, enable, disable and remove notification channels."
    permissions = {
        "add": "admin",
        "edit": "admin",
        "test": "admin",
        "list": "admin",
        "enable": "admin",
        "disable": "admin",
        "remove": "admin",
    }

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
        self.add_edit_arguments(sub)
        test = sub.add_parser("test", help="Send a test notice now; exit 0 when delivered.")
        test.add_argument("name")
        listing = sub.add_parser("list", help="List channels (URLs masked).")
        listing.add_argument("--json", action="store_true")
        for verb, told in (("enable", "Queue events for it again."), ("disable", "Queue nothing for it.")):
            sub.add_parser(verb, help=f"{verb.capitalize()} a channel: {told}").add_argument("name")
        remove = sub.add_parser("remove", help="Remove a channel and its delivery history.")
        remove.add_argument("name")

    def add_edit_arguments(self, sub: Any) -> None:
        edit = sub.add_parser(
            "edit", help="Change a channel's URL, secret, events or scope; what is omitted stays."
        )
        edit.add_argument("name")
        edit.add_argument("--url", default="")
        secret = edit.add_mutually_exclusive_group()
        secret.add_argument("--secret", default="", help="webhooks: a new HMAC key")
        secret.add_argument(
            "--rotate-secret", action="store_true", help="webhooks: generate one, printed once"
        )
        edit.add_argument("--events", default="", help="comma-separated: the whole new list")
        scope = edit.add_mutually_exclusive_group()
        scope.add_argument("--site", default="")
        scope.add_argument("--cluster", default="")
        scope.add_argument("--everywhere", action="store_true", help="every site's and cluster's events")

    def do_edit(
        self, name: str, events: str, site: str, cluster: str, everywhere: bool, **options: Any
    ) -> None:
        channel = _channel(name)
        data: dict[str, Any] = {
            "url": options["url"],
            "secret": options["secret"],
            "rotate_secret": options["rotate_secret"],
            "events": [e.strip() for e in events.split(",") if e.strip()] if events else channel.events,
            **_scope(channel, site, cluster, everywhere),
        }
        form = ChannelEditForm(data, instance=channel)
        if not form.is_valid():
            raise CommandError(f"notify edit: {form_errors(form)}", returncode=REFUSED)
        channel = crud.save_form(None, form, actor=command_actor())
        self.stdout.write(f"saved {channel.name} ({channel.get_kind_display()}, scope {channel.scope})")
        if form.generated_secret:
            self.stdout.write(f"secret (shown once): {form.generated_secret}")

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

    def do_enable(self, name: str, **_: Any) -> None:
        changed = service.set_enabled(_channel(name), True, actor=command_actor())
        self.stdout.write(f"{name} enabled" if changed else f"{name} was already enabled")

    def do_disable(self, name: str, **_: Any) -> None:
        changed = service.set_enabled(_channel(name), False, actor=command_actor())
        self.stdout.write(f"{name} disabled" if changed else f"{name} was already disabled")

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


def _scope(channel: Channel, site: str, cluster: str, everywhere: bool) -> dict[str, Any]:
    """The form's site and cluster: the ones named, none (--everywhere), or the channel's own."""
    if everywhere:
        return {}
    if site:
        return {"site": _pk(Channel, "site", "slug", site)}
    if cluster:
        return {"cluster": _pk(Channel, "cluster", "name", cluster)}
    return {"site": channel.site_id or "", "cluster": channel.cluster_id or ""}


def _pk(model: type[Channel], field: str, lookup: str, value: str) -> int:
    related = model._meta.get_field(field).related_model
    found = related._default_manager.filter(**{lookup: value}).values_list("pk", flat=True).first()  # type: ignore[union-attr]
    if found is None:
        raise CommandError(f"no {field} named {value!r}", returncode=REFUSED)
    return int(found)
