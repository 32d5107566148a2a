"""Editing a channel (URL, events, scope, secret rotation) and disabling it: audited, secrets shown
once and never stored in the audit log, and a disabled channel gets nothing queued."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from panel import notify
from panel.models import AuditEvent
from panel.notify.models import Channel, Delivery
from tests import factories

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/panel/T0KEN"


def webhook(**kw):  # type: ignore[no-untyped-def]
    return Channel.objects.create(name="ops", kind="webhook", url=URL, secret="old-secret", **kw)


def edit(client, channel, **data):  # type: ignore[no-untyped-def]
    form = {"url": "", "secret": "", "events": ["job.failed"], **data}
    return client.post(reverse("notify-channel-edit", args=[channel.pk]), form)


def test_a_blank_url_and_secret_keep_them_while_events_and_scope_change(personas):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    channel = webhook()
    admin = personas.client("admin")
    page = admin.get(reverse("notify-channel-edit", args=[channel.pk])).content.decode()
    assert "T0KEN" not in page and "old-secret" not in page and "https://hooks.example.com/…" in page
    response = edit(admin, channel, events=["node.down", "drift.detected"], site=site.pk)
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.url.reveal() == URL and channel.secret.reveal() == "old-secret"
    assert channel.events == ["node.down", "drift.detected"] and channel.scope == "site acme"
    event = AuditEvent.objects.filter(action="channel.edit").latest("id")
    assert event.after["events"] == ["node.down", "drift.detected"] and "url" not in event.after


def test_rotating_the_secret_shows_the_new_one_once_and_audits_no_secret(personas):  # type: ignore[no-untyped-def]
    channel = webhook()
    response = edit(personas.client("admin"), channel, url="https://other.example.com/h2", rotate_secret="on")
    channel.refresh_from_db()
    new = channel.secret.reveal()
    assert new != "old-secret" and len(new) >= 32
    assert response.status_code == 200 and new in response.content.decode()
    assert channel.url.reveal() == "https://other.example.com/h2"
    event = AuditEvent.objects.filter(action="channel.edit").latest("id")
    text = json.dumps([event.before, event.after])
    assert {"url", "secret"} <= set(event.after) and new not in text and "old-secret" not in text
    assert "other.example.com/h2" not in text and "T0KEN" not in text


def test_a_disabled_channel_gets_no_deliveries_until_enabled_again(personas, queued):  # type: ignore[no-untyped-def]
    channel = webhook()
    admin = personas.client("admin")
    url = reverse("notify-channel-enabled", args=[channel.pk])
    assert admin.post(url, {"enabled": "0"}).status_code == 302
    assert "disabled" in admin.get(channel.get_absolute_url()).content.decode()
    assert notify.emit("job.failed", payload={}, subject=1) == 0
    listed = io.StringIO()
    call_command("notify", "list", "--json", stdout=listed)
    assert json.loads(listed.getvalue())[0]["enabled"] is False
    assert admin.post(url, {"enabled": "1"}).status_code == 302
    assert notify.emit("job.failed", payload={}, subject=2) == 1
    assert list(Delivery.objects.values_list("dedup_key", flat=True)) == ["job.failed:2"]
    actions = AuditEvent.objects.filter(action__startswith="channel.").order_by("id")
    assert [e.action for e in actions] == ["channel.disable", "channel.enable"]
    assert actions[0].before == {"enabled": True} and actions[0].after == {"enabled": False}


def test_only_admins_edit_or_disable(personas):  # type: ignore[no-untyped-def]
    channel = webhook()
    for role in ("viewer", "operator", "approver"):
        client = personas.client(role)
        assert edit(client, channel, url="https://evil.example.com/").status_code == 403
        enabled = reverse("notify-channel-enabled", args=[channel.pk])
        assert client.post(enabled, {"enabled": "0"}).status_code == 403
    channel.refresh_from_db()
    assert channel.enabled and channel.url.reveal() == URL
    assert (
        personas.client("admin").get(reverse("notify-channel-enabled", args=[channel.pk])).status_code == 405
    )


def test_notify_disable_and_enable_from_the_command_line(queued):  # type: ignore[no-untyped-def]
    channel = webhook()
    out = io.StringIO()
    call_command("notify", "disable", "ops", stdout=out)
    call_command("notify", "disable", "ops", stdout=out)
    assert out.getvalue().splitlines() == ["ops disabled", "ops was already disabled"]
    assert notify.emit("node.down", payload={}, subject="n1") == 0
    call_command("notify", "enable", "ops", stdout=out)
    channel.refresh_from_db()
    assert channel.enabled and notify.emit("node.down", payload={}, subject="n1") == 1
    actions = list(
        AuditEvent.objects.filter(action__startswith="channel.")
        .order_by("id")
        .values_list("action", "actor_username")
    )
    assert [a for a, _ in actions] == ["channel.disable", "channel.enable"]
    assert all(who.startswith("cli:") for _, who in actions)


def test_notify_edit_keeps_what_is_omitted_and_prints_a_rotated_secret_once():  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    channel = webhook(site=site, events=["job.failed"])
    out = io.StringIO()
    call_command("notify", "edit", "ops", "--events", "node.down,node.up", stdout=out)
    channel.refresh_from_db()
    assert channel.events == ["node.down", "node.up"] and channel.scope == "site acme"
    assert channel.url.reveal() == URL and channel.secret.reveal() == "old-secret"
    call_command("notify", "edit", "ops", "--rotate-secret", "--everywhere", stdout=out)
    channel.refresh_from_db()
    new = channel.secret.reveal()
    assert new != "old-secret" and out.getvalue().count(new) == 1 and channel.scope == "all"
    assert channel.events == ["node.down", "node.up"]
    edits = AuditEvent.objects.filter(action="channel.edit").order_by("id")
    assert edits.count() == 2 and all(e.actor_username.startswith("cli:") for e in edits)
    assert new not in json.dumps([edits[1].before, edits[1].after])
    with pytest.raises(CommandError) as refused:
        call_command("notify", "edit", "ops", "--url", "nonsense", stdout=out)
    assert refused.value.returncode == 2
