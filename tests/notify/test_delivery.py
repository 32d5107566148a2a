"""Notices reach real receivers on loopback: an email through Apprise to an SMTP server, a signed
webhook to an HTTP server; a failing channel is retried and recorded and never touches the job."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection

import tests.jobs.runners  # noqa: F401  (registers the test runners)
from jobs import runner
from jobs.models import State
from panel.notify.models import Channel, Delivery
from panel.notify.signing import sign, verify
from panel.notify.tasks import MAX_ATTEMPTS, deliver
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def webhook(name: str, url: str, **kw):  # type: ignore[no-untyped-def]
    return Channel.objects.create(name=name, kind="webhook", url=url, secret="s3cret-key-for-tests", **kw)


def send_all(ids: list[int]) -> None:
    for pk in ids:
        deliver.apply(args=[pk])


def test_the_email_of_a_failed_job_reaches_a_real_smtp_server(smtp, queued, job_logs):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    url = f"mailto://127.0.0.1:{smtp.port}?from=panel@example.com&to=ops@example.com"
    channel = Channel.objects.create(name="ops-mail", kind="apprise", url=url)
    job = factories.job(site, kind="test.lines", mutating=False, params={"count": 1, "fail": True})

    assert runner.execute(job.pk) == State.FAILED
    send_all(queued)

    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.event, delivery.status, delivery.attempts) == ("job.failed", "sent", 1)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message.rcpt_tos == ["ops@example.com"]
    text = message.content.decode(errors="replace")
    assert f"Job #{job.pk} (test.lines) failed on acme" in text and "asked to fail" in text


def test_a_succeeded_job_is_not_sent_by_default(queued, job_logs):  # type: ignore[no-untyped-def]
    webhook("hook", "http://127.0.0.1:9/")
    job = factories.job(kind="test.lines", mutating=False, params={"count": 1})
    assert runner.execute(job.pk) == State.SUCCEEDED
    assert queued == [] and not Delivery.objects.exists()


def test_the_webhook_is_signed_and_the_receiver_verifies_it(receiver, queued):  # type: ignore[no-untyped-def]
    from panel import notify

    cluster = factories.cluster(name="prod")
    channel = webhook("hook", receiver.url)
    assert (
        notify.emit("node.down", cluster=cluster, payload={"hostname": "w1", "state": "down"}, subject="n1")
        == 1
    )
    send_all(queued)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/hooks/panel-token-xyz?key=query-secret"
    assert got.headers["content-type"] == "application/json"
    timestamp, signature = got.headers["x-panel-timestamp"], got.headers["x-panel-signature"]
    assert signature.startswith("sha256=")
    assert abs(int(timestamp) - time.time()) < 60
    assert verify("s3cret-key-for-tests", got.body, timestamp, signature)
    doc = json.loads(got.body)
    assert doc["event"] == "node.down" and doc["cluster"] == "prod" and doc["site"] is None
    assert doc["payload"] == {"hostname": "w1", "state": "down"} and doc["time"]
    # What a receiver must reject: another key, a changed body, a replay after 5 minutes.
    assert not verify("another-key", got.body, timestamp, signature)
    assert not verify("s3cret-key-for-tests", got.body.replace(b"down", b"up"), timestamp, signature)
    assert not verify("s3cret-key-for-tests", got.body, timestamp, signature, now=int(timestamp) + 301)
    replayed = str(int(timestamp) - 400)
    assert not verify(
        "s3cret-key-for-tests", got.body, replayed, sign("s3cret-key-for-tests", replayed, got.body)
    )
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_a_channel_answering_500_is_retried_and_recorded_without_touching_the_job(  # type: ignore[no-untyped-def]
    receiver, queued, job_logs
):
    receiver.status = 500
    channel = webhook("broken", receiver.url, events=["job.succeeded"])
    job = factories.job(kind="test.lines", mutating=False, params={"count": 1})

    started = time.monotonic()
    assert runner.execute(job.pk) == State.SUCCEEDED
    assert time.monotonic() - started < 5  # the job never waited for the channel
    assert receiver.requests == []  # nothing is sent on the job's path
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.error == ""

    send_all(queued)  # eagerly: each retry runs at once instead of after its backoff
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed" and delivery.attempts == MAX_ATTEMPTS > 1
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert delivery.last_error.startswith("HTTP 500")
    assert "panel-token-xyz" not in delivery.last_error and "query-secret" not in delivery.last_error
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED


def test_an_unreachable_channel_records_an_error_without_its_url(queued):  # type: ignore[no-untyped-def]
    from panel import notify
    from tests.notify.conftest import free_port

    channel = webhook("gone", f"http://127.0.0.1:{free_port()}/secret-path-123?token=abcdef")
    notify.emit("drift.cleared", payload={}, subject="acme")
    pk = queued[0]
    from panel.notify.tasks import send_now

    assert send_now(pk) == "failed"
    error = Delivery.objects.get(channel=channel).last_error
    assert error and "secret-path-123" not in error and "abcdef" not in error


def test_the_secret_and_url_are_encrypted_at_rest():  # type: ignore[no-untyped-def]
    webhook("hook", "https://hooks.example.com/T0KEN-in-path")
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM notify_channel")
        url, secret = cursor.fetchone()
    assert "T0KEN" not in url and "s3cret" not in secret
