"""Small helpers for the audit tests: the events since a mark, and chained rows with chosen times."""

import datetime
import json
from typing import Any

from django.forms.models import model_to_dict
from django.utils import timezone

from panel.audit.chain import last_hash, seal
from panel.models import AuditEvent

BLANK: dict[str, Any] = {
    "actor_user_id": None,
    "actor_username": "tester",
    "actor_role": "admin",
    "action": "site.edit",
    "target_type": "site",
    "target_id": "1",
    "target_name": "acme",
    "before": None,
    "after": None,
    "request_id": "",
    "client_address": "",
    "job_id": None,
    "site_slug": "",
    "cluster_name": "",
    "detail": "",
}


def mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def since(mark_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=mark_id).order_by("id"))


def append(rows: list[dict[str, Any]], time: datetime.datetime | None = None) -> list[AuditEvent]:
    """Chain rows after the current last one, as record() would, but with chosen content and times
    (e.g. many events sharing one timestamp)."""
    previous = last_hash()
    made = []
    for row in rows:
        full = {**BLANK, "time": time or timezone.now(), **row, "prev_hash": previous}
        previous = seal(full)["hash"]
        made.append(AuditEvent(**full))
    return AuditEvent.objects.bulk_create(made)


def as_text(event: AuditEvent) -> str:
    """Every stored field of an event as one string, to look for leaked secrets."""
    return json.dumps(model_to_dict(event), default=str, ensure_ascii=False)
