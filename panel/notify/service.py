"""What both the pages and `manage.py notify` do to channels, in one place."""

from __future__ import annotations

from panel.notify.events import test_notice
from panel.notify.models import Channel, Delivery
from panel.notify.tasks import send_now


def send_test(channel: Channel) -> Delivery:
    """A test notice, tried once now (the person waits for the answer), recorded like any other."""
    delivery = test_notice(channel)
    send_now(delivery.pk)
    delivery.refresh_from_db()
    return delivery


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
