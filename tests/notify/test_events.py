"""emit(): who gets what (subscriptions and scopes), dedup (a flapping node), and that it never
fails or slows its caller."""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace

import pytest
from django.db import transaction

from clusters.models import Node
from clusters.sync import sync_cluster
from panel import notify
from panel.notify.models import Channel, Delivery
from tests import factories

pytestmark = pytest.mark.django_db


def channel(name: str, **kw):  # type: ignore[no-untyped-def]
    return Channel.objects.create(name=name, kind="webhook", url="http://127.0.0.1:9/", secret="k", **kw)


def events_of(ch: Channel) -> list[str]:
    return list(Delivery.objects.filter(channel=ch).order_by("id").values_list("event", flat=True))


def fake_swarm(monkeypatch, states: list[str]):  # type: ignore[no-untyped-def]
    """sync_cluster against a Swarm whose one worker node reports the next state on each sync."""
    upcoming = iter(states)

    def nodes() -> list:
        attrs = {
            "ID": "node-w1",
            "Spec": {"Role": "worker", "Availability": "active"},
            "Status": {"State": next(upcoming), "Addr": "10.0.0.2"},
            "Description": {"Hostname": "w1", "Engine": {"EngineVersion": "27.0"}},
        }
        return [SimpleNamespace(attrs=attrs)]

    client = SimpleNamespace(nodes=SimpleNamespace(list=nodes))
    monkeypatch.setattr("clusters.sync.client_for", lambda cluster: contextlib.nullcontext(client))
    monkeypatch.setattr("clusters.sync.inspect", lambda client, endpoint: SimpleNamespace(version="27.0"))


def test_a_flapping_node_sends_one_notice_per_state_change_within_the_window(  # type: ignore[no-untyped-def]
    monkeypatch, queued
):
    cluster = factories.cluster(name="prod")
    ops = channel("ops")
    fake_swarm(monkeypatch, ["ready", "down", "ready", "down", "ready", "down", "ready", "down", "ready"])
    for _ in range(9):
        assert sync_cluster(cluster).ok
    assert Node.objects.get(node_id="node-w1").state == "ready"
    assert events_of(ops) == ["node.down", "node.up"]  # not 4 of each
    doc = Delivery.objects.get(channel=ops, event="node.down").payload
    assert (
        doc["cluster"] == "prod" and doc["payload"]["hostname"] == "w1" and doc["payload"]["state"] == "down"
    )


def test_past_the_window_the_same_notice_is_sent_again(settings, queued):  # type: ignore[no-untyped-def]
    settings.NOTIFY_DEDUP_SECONDS = 0
    ops = channel("ops")
    for _ in range(3):
        notify.emit("node.down", payload={}, subject="n1")
    assert events_of(ops) == ["node.down"] * 3


def test_subscriptions_and_scopes(queued):  # type: ignore[no-untyped-def]
    prod, test = factories.cluster(name="prod"), factories.cluster(name="test")
    acme, other = factories.site(prod, slug="acme"), factories.site(prod, slug="other")
    everywhere = channel("all")
    on_prod = channel("prod", cluster=prod)
    on_acme = channel("acme", site=acme)
    successes = channel("successes", events=["job.succeeded"])
    channel("off", enabled=False)

    notify.emit("job.failed", site=acme, payload={}, subject=1)
    notify.emit("job.failed", site=other, payload={}, subject=2)
    notify.emit("job.failed", cluster=test, payload={}, subject=3)
    notify.emit("job.succeeded", site=acme, payload={}, subject=4)
    notify.emit("audit.verify_failed", payload={"problems": "x"}, subject="h")

    assert events_of(everywhere) == ["job.failed"] * 3 + ["audit.verify_failed"]
    assert events_of(on_prod) == ["job.failed", "job.failed"]
    assert events_of(on_acme) == ["job.failed"]
    assert events_of(successes) == ["job.succeeded"]
    assert Delivery.objects.count() == 4 + 2 + 1 + 1


def test_emit_never_raises_and_leaves_the_callers_transaction_usable(queued):  # type: ignore[no-untyped-def]
    channel("ops")
    cluster = factories.cluster(name="prod")
    with transaction.atomic():
        assert notify.emit("job.failed", payload={"bad": object()}, subject=1) == 0  # not JSON
        assert notify.emit("no.such.event", payload={}) == 0
        cluster.name = "prod2"
        cluster.save()  # the caller's transaction still works
    assert not Delivery.objects.exists() and queued == []


def test_the_batch_is_handed_over_only_when_the_caller_commits(
    django_capture_on_commit_callbacks, monkeypatch
):  # type: ignore[no-untyped-def]
    sent: list[list[int]] = []
    monkeypatch.setattr("panel.notify.events.enqueue", sent.append)
    channel("a"), channel("b")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        notify.emit("job.failed", payload={}, subject=1)
        assert sent == []
    assert len(sent) == 1 and len(sent[0]) == 2  # one message for the whole batch


def test_emit_is_cheap_with_twenty_channels(queued):  # type: ignore[no-untyped-def]
    for n in range(20):
        channel(f"c{n}")
    started = time.perf_counter()
    for n in range(200):
        notify.emit("job.failed", payload={"job_id": n}, subject=n)
    per_event_ms = (time.perf_counter() - started) * 1000 / 200
    assert Delivery.objects.count() == 4000
    assert per_event_ms < 50, f"{per_event_ms:.1f} ms per event"


def test_the_sweeper_resends_what_the_broker_lost(monkeypatch):  # type: ignore[no-untyped-def]
    import datetime

    from django.utils import timezone

    from panel.notify import tasks

    ops = channel("ops")
    old = timezone.now() - datetime.timedelta(minutes=10)
    lost = Delivery.objects.create(channel=ops, event="job.failed", dedup_key="a", created_at=old)
    Delivery.objects.create(
        channel=ops, event="job.failed", dedup_key="b", created_at=old, attempts=1
    )  # retrying
    Delivery.objects.create(channel=ops, event="job.failed", dedup_key="c")  # just queued
    Delivery.objects.create(channel=ops, event="job.failed", dedup_key="d", created_at=old, status="sent")
    resent: list[int] = []
    monkeypatch.setattr(tasks.deliver, "delay", resent.append)
    assert tasks.sweep() == 1 and resent == [lost.pk]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_emit_commits_alone_and_hands_over_at_once(queued):  # type: ignore[no-untyped-def]
    from django.db import connection

    channel("ops")
    assert notify.emit("job.failed", payload={}, subject=1) == 1
    assert Delivery.objects.filter(pk__in=queued).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # only emit()'s own transaction skipped the flush
