"""Channels (where notices go) and deliveries (each notice to each channel, with its fate).

A channel's URL and secret are encrypted at rest (panel.crypto): a chat URL carries its token. A
channel is scoped to every event (neither cluster nor site), one cluster (and its sites), or one site.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from panel.crypto import EncryptedTextField
from panel.notify.catalog import default_events

NAME = RegexValidator(r"^[a-z0-9][a-z0-9_.-]{0,62}$", "lowercase letters, digits, '.', '_' and '-'")


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook"
        APPRISE = "apprise", "Apprise (email, chat)"

    name = models.CharField(max_length=63, unique=True, validators=[NAME])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = EncryptedTextField(help_text="http(s):// for a signed webhook; mailto://, slack://, … for Apprise.")
    secret = EncryptedTextField(blank=True, help_text="The webhook's HMAC key (webhooks only).")
    events = models.JSONField(default=default_events, blank=True)
    cluster = models.ForeignKey(
        "clusters.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    site = models.ForeignKey(
        "clusters.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cluster__isnull=True) | Q(site__isnull=True), name="notify_channel_one_scope"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("notify-channel-detail", args=[self.pk])

    @property
    def scope(self) -> str:
        if self.site_id:
            return f"site {self.site}"
        if self.cluster_id:
            return f"cluster {self.cluster}"
        return "all"


class Delivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    # The whole document sent: {"event", "time", "cluster", "site", "payload"}.
    payload = models.JSONField(default=dict)
    dedup_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # The channel page (newest first, by id) and the dedup look-up (key within a window) are one
        # index range each; the sweeper finds queued deliveries through a small partial index.
        indexes = [
            models.Index(fields=["channel", "-id"], name="notify_delivery_page"),
            models.Index(fields=["channel", "dedup_key", "created_at"], name="notify_delivery_dedup"),
            models.Index(fields=["created_at"], name="notify_delivery_queued", condition=Q(status="queued")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event} to {self.channel_id} ({self.status})"
