"""Beat anchors the chain and verifies it (issue 17); a failed verify is logged at ERROR, recorded once,
and shown to admins on the dashboard until a verify passes again."""

import os

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from panel import tasks
from panel.audit import record, watch
from panel.celery import app
from panel.models import AuditEvent

pytestmark = pytest.mark.django_db


def scheduled(task: str) -> float:
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == task]
    assert len(entries) == 1, task
    assert task in app.tasks
    return float(entries[0]["schedule"])


def test_beat_anchors_and_verifies_the_chain():  # type: ignore[no-untyped-def]
    assert scheduled("panel.tasks.audit_anchor") == settings.AUDIT_ANCHOR_EVERY_S
    assert scheduled("panel.tasks.audit_verify") == settings.AUDIT_VERIFY_EVERY_S
    if "PANEL_AUDIT_ANCHOR_EVERY_S" not in os.environ and "PANEL_AUDIT_VERIFY_EVERY_S" not in os.environ:
        assert (settings.AUDIT_ANCHOR_EVERY_S, settings.AUDIT_VERIFY_EVERY_S) == (600, 3600)


def alter(event: AuditEvent, detail: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE panel_auditevent SET detail = %s WHERE id = %s", [detail, event.id])
        cursor.execute("ALTER TABLE panel_auditevent ENABLE TRIGGER USER")


def test_the_anchor_task_writes_the_head(anchor_file):  # type: ignore[no-untyped-def]
    event = record("site.edit", actor="system")
    tasks.audit_anchor()
    assert f'"id": {event.id}' in anchor_file.read_text()


def test_a_failed_verify_is_logged_recorded_once_and_shown_to_admins(personas, caplog):  # type: ignore[no-untyped-def]
    events = [record("site.edit", actor="system", detail=f"n{n}") for n in range(3)]
    tasks.audit_verify()
    assert watch.alert() is None
    alter(events[1], "rewritten")
    caplog.set_level("INFO", logger="panel.audit")
    tasks.audit_verify()
    assert any(r.levelname == "ERROR" and f"event #{events[1].id} " in r.getMessage() for r in caplog.records)
    report = watch.alert()
    assert report is not None and report["broken_id"] == events[1].id
    tasks.audit_verify()  # the same failure an hour later: no second event
    failures = AuditEvent.objects.filter(action="audit.verify_failed")
    assert failures.count() == 1 and f"event #{events[1].id} " in failures.get().detail

    banner = f"Audit chain broken at id {events[1].id}"
    assert banner in personas.client("admin").get(reverse("dashboard")).content.decode()
    assert banner not in personas.client("viewer").get(reverse("dashboard")).content.decode()

    alter(events[1], "n1")  # the row as it was: the next verify passes and the banner goes
    tasks.audit_verify()
    assert watch.alert() is None
    assert banner not in personas.client("admin").get(reverse("dashboard")).content.decode()


def test_the_failure_hook_never_raises(monkeypatch):  # type: ignore[no-untyped-def]
    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("redis is down")

    monkeypatch.setattr(watch.cache, "get", down)
    monkeypatch.setattr(watch.cache, "set", down)
    monkeypatch.setattr(watch, "record", down)
    watch.on_verify_failed({"broken_id": 1, "problems": ["x"], "checked": 1, "at": "now"})
