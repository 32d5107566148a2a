"""What both the pages and `manage.py notify` do to channels, in one place."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from panel import audit
from panel.notify.events import test_notice
from panel.notify.models import Channel, Delivery
from panel.notify.tasks import send_now


def send_test(channel: Channel) -> Delivery:
    """A test notice, tried once now (the person waits for the answer), recorded like any other."""
    delivery = test_notice(channel)
    send_now(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def set_enabled(channel: Channel, enabled: bool, *, request: Any = None, actor: Any = None) -> bool:
    """Enable or disable (a disabled channel gets nothing queued, not even later); audited as
    channel.enable / channel.disable. False when it already was so (nothing recorded)."""
    with transaction.atomic():
        was = Channel.objects.select_for_update().values_list("enabled", flat=True).get(pk=channel.pk)
        channel.enabled = enabled
        if was == enabled:
            return False
        Channel.objects.filter(pk=channel.pk).update(enabled=enabled)
        audit.record(
            f"channel.{'enable' if enabled else 'disable'}",
            request=request,
            actor=actor,
            target=channel,
            before={"enabled": was},
            after={"enabled": enabled},
        )
    return True


def as_dict(channel: Channel) -> dict[str, object]:
    from panel.notify.forms import masked_url

    last = channel.deliveries.order_by("-id").values("status", "created_at").first()
    return {
        "name": channel.name,
        "kind": channel.kind,
        "url": masked_url(channel),
        "events": channel.events,
        "scope": channel.scope,
        "cluster": channel.cluster.name if channel.cluster else None,
        "site": channel.site.slug if channel.site else None,
        "enabled": channel.enabled,
        "last_delivery": (
            {"status": last["status"], "at": last["created_at"].isoformat(timespec="seconds")}
            if last
            else None
        ),
    }
