"""`manage.py notify add|test|list|remove` with their contracts, and the admin-only pages."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from panel.models import AuditEvent
from panel.notify.models import Channel, Delivery
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("notify", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value


def test_add_a_webhook_prints_its_generated_secret_once():  # type: ignore[no-untyped-def]
    out = run(
        "add", "ops-hook", "--url", "https://hooks.example.com/x/T0KEN", "--events", "job.failed,node.down"
    )
    secret = out.split("secret (shown once): ")[1].strip()
    channel = Channel.objects.get(name="ops-hook")
    assert channel.kind == "webhook" and channel.secret.reveal() == secret and len(secret) >= 32
    assert channel.events == ["job.failed", "node.down"] and channel.scope == "all"
    event = AuditEvent.objects.filter(action="channel.create").latest("id")
    assert secret not in json.dumps(event.after) and "T0KEN" not in json.dumps(event.after)
    listed = run("list", "--json")
    assert secret not in listed and "T0KEN" not in listed
    assert json.loads(listed)[0]["url"] == "https://hooks.example.com/…"


def test_add_with_a_secret_an_apprise_url_and_a_scope():  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    out = run("add", "hook", "--url", "http://127.0.0.1:8000/h", "--secret", "given-secret", "--site", "acme")
    assert "secret" not in out.replace("scope", "")
    assert Channel.objects.get(name="hook").secret.reveal() == "given-secret"
    run(
        "add",
        "mail",
        "--url",
        "mailto://127.0.0.1:2525?from=a@example.com&to=b@example.com",
        "--cluster",
        "prod",
    )
    mail = Channel.objects.get(name="mail")
    assert mail.kind == "apprise" and mail.secret.reveal() == "" and mail.cluster.name == "prod"
    assert Channel.objects.get(name="hook").site == site
    assert "job.succeeded" not in mail.events and "job.failed" in mail.events
    rows = {c["name"]: c for c in json.loads(run("list", "--json"))}
    assert rows["mail"]["url"] == "mailto://…" and rows["hook"]["scope"] == "site acme"


@pytest.mark.parametrize(
    "args",
    [
        ["add", "x", "--url", "not a url"],
        ["add", "x", "--url", "nosuchscheme://abc"],
        ["add", "x", "--url", "https://h.example.com/", "--events", "job.failed,bogus"],
        ["add", "Bad Name", "--url", "https://h.example.com/"],
        ["add", "x", "--url", "https://h.example.com/", "--site", "nope"],
        ["test", "nope"],
        ["remove", "nope"],
    ],
)
def test_bad_input_exits_2_and_changes_nothing(args):  # type: ignore[no-untyped-def]
    assert refused(*args).returncode == 2
    assert not Channel.objects.exists()


def test_test_exits_0_when_delivered_and_1_when_not(receiver):  # type: ignore[no-untyped-def]
    run("add", "hook", "--url", receiver.url)
    assert "delivered" in run("test", "hook")
    assert json.loads(receiver.requests[0].body)["event"] == "notify.test"
    receiver.status = 503
    error = refused("test", "hook")
    assert error.returncode == 1 and "HTTP 503" in str(error) and "panel-token-xyz" not in str(error)
    assert list(Delivery.objects.order_by("id").values_list("status", "attempts")) == [
        ("sent", 1),
        ("failed", 1),
    ]


def test_remove():  # type: ignore[no-untyped-def]
    run("add", "hook", "--url", "https://h.example.com/")
    assert "removed hook" in run("remove", "hook")
    assert not Channel.objects.exists()
    assert AuditEvent.objects.filter(action="channel.delete").exists()


def test_commands_are_admin_only():  # type: ignore[no-untyped-def]
    factories.user("olga", role="operator")
    error = refused("--as", "olga", "list")
    assert error.returncode == 2 and "may not run" in str(error)


def test_pages_list_detail_and_send_a_test(personas, receiver):  # type: ignore[no-untyped-def]
    admin = personas.client("admin")
    page = admin.post(
        reverse("notify-channel-create"),
        {"name": "hook", "url": receiver.url, "secret": "", "events": ["job.failed"], "enabled": "on"},
    )
    assert page.status_code == 200 and "shown this once" in page.content.decode()
    channel = Channel.objects.get(name="hook")
    assert channel.secret.reveal() in page.content.decode()
    assert "panel-token-xyz" not in admin.get(reverse("notify-channel-list")).content.decode()

    response = admin.post(reverse("notify-channel-test", args=[channel.pk]), follow=True)
    text = response.content.decode()
    assert "Test notice delivered to hook" in text and "notify.test" in text and "panel-token-xyz" not in text
    assert len(receiver.requests) == 1

    for role in ("viewer", "operator", "approver"):
        assert personas.client(role).get(reverse("notify-channel-list")).status_code == 403
        assert (
            personas.client(role).post(reverse("notify-channel-test", args=[channel.pk])).status_code == 403
        )
    assert len(receiver.requests) == 1


def test_the_channel_page_pages_through_thousands_of_deliveries(personas, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    channel = Channel.objects.create(name="busy", kind="webhook", url="https://h.example.com/", secret="k")
    Delivery.objects.bulk_create(
        [
            Delivery(channel=channel, event="job.failed", dedup_key=f"job.failed:{n}", payload={})
            for n in range(3000)
        ]
    )
    admin = personas.client("admin")
    admin.get(reverse("notify-channel-detail", args=[channel.pk]))  # warm the session and templates
    with django_assert_max_num_queries(12):
        page = admin.get(reverse("notify-channel-detail", args=[channel.pk]) + "?page=2").content.decode()
    newest = Delivery.objects.order_by("-id").values_list("pk", flat=True)[25]
    assert f'id="delivery-{newest}"' in page and "3000 in all" in page
