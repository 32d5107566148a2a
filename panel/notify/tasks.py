"""Delivery on the worker: one task per delivery, retried with exponential backoff, each attempt
recorded on its row (status, attempts, last error) for the channel's page."""

from __future__ import annotations

import datetime
import logging
import random
from typing import Any

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from panel.notify.models import Delivery
from panel.notify.transport import DeliveryError, send

log = logging.getLogger("panel.notify")
MAX_ATTEMPTS = 5
FIRST_BACKOFF_S = 10.0
MAX_BACKOFF_S = 300.0
SWEEP_AFTER = datetime.timedelta(minutes=5)
RETRIES_OVER = datetime.timedelta(minutes=30)  # past every backoff: a retry message was lost
SWEEP_UNTIL = datetime.timedelta(days=1)


def backoff(attempts: int) -> float:
    """10 s, 30 s, 90 s, 270 s (capped at 5 min), with a little jitter so retries do not bunch."""
    base = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 3 ** max(0, attempts - 1))
    return base * random.uniform(0.9, 1.1)


@shared_task(name="panel.notify.fan_out", ignore_result=True)
def fan_out(ids: list[int]) -> None:
    """One message from emit() per event, one task per delivery here: a slow channel holds up no other."""
    for pk in ids:
        deliver.delay(pk)


@shared_task(name="panel.notify.deliver", bind=True, ignore_result=True, max_retries=MAX_ATTEMPTS + 5)
def deliver(self: Any, delivery_id: int) -> str | None:
    """Send one queued delivery; on failure record it and retry later, until MAX_ATTEMPTS."""
    status = attempt(delivery_id)
    if status == Delivery.Status.QUEUED:
        attempts = Delivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)
        raise self.retry(countdown=backoff(attempts))
    return status


def attempt(delivery_id: int, *, last: bool = False) -> str | None:
    """One try; returns the delivery's status after it (queued: try again), None if not queued.
    `last`: no retry follows (a test notice), so a failure is final at once."""
    delivery = Delivery.objects.select_related("channel").filter(pk=delivery_id, status="queued").first()
    if delivery is None:
        return None
    attempts = delivery.attempts + 1
    channel = delivery.channel
    if not channel.enabled and delivery.event != "notify.test":
        return _record(delivery, attempts, Delivery.Status.FAILED, "the channel was disabled before sending")
    try:
        send(channel, delivery.payload, delivery.pk)
    except DeliveryError as exc:
        final = last or attempts >= MAX_ATTEMPTS
        log.warning("notify: delivery %s to %s failed (attempt %s): %s", delivery.pk, channel, attempts, exc)
        return _record(
            delivery, attempts, Delivery.Status.FAILED if final else Delivery.Status.QUEUED, str(exc)
        )
    return _record(delivery, attempts, Delivery.Status.SENT, "")


def _record(delivery: Delivery, attempts: int, status: str, error: str) -> str:
    sent_at = timezone.now() if status == Delivery.Status.SENT else None
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=attempts,
        sent_at=sent_at,
        last_error=error[:2000] if error else delivery.last_error,
    )
    return status


@shared_task(name="panel.notify.sweep", ignore_result=True)
def sweep() -> int:
    """Deliveries still queued long after their event (the broker lost the message): send again.
    One never tried waits 5 minutes; one being retried waits until its backoff is surely over."""
    now = timezone.now()
    lost = Q(attempts=0, created_at__lt=now - SWEEP_AFTER) | Q(created_at__lt=now - RETRIES_OVER)
    stale = Delivery.objects.filter(lost, status=Delivery.Status.QUEUED, created_at__gte=now - SWEEP_UNTIL)
    ids = list(stale.values_list("pk", flat=True)[:500])
    for pk in ids:
        deliver.delay(pk)
    return len(ids)


def send_now(delivery_id: int) -> str | None:
    """One try in this process, final either way: the test button and `notify test` wait for the answer."""
    return attempt(delivery_id, last=True)
