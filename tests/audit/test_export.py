"""Exports stream the filtered set, in order, as CSV and JSON; through WSGI and ASGI alike."""

import csv
import datetime
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient
from django.urls import reverse

from panel.audit import export
from panel.audit.chain import event_hash
from panel.models import AuditEvent
from tests.audit.helpers import append

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def log(db, monkeypatch):  # type: ignore[no-untyped-def]
    """45 events, 20 of them at one instant, exported in chunks of 7 to cross many boundaries."""
    monkeypatch.setattr(export, "CHUNK", 7)
    rows = [
        {
            "site_slug": "acme" if n % 3 else "beta",
            "target_name": '=HYPERLINK("http://evil")' if n == 4 else f"t{n}",
            "before": {"replicas": n} if n % 2 else None,
            "after": {"replicas": n + 1, "nested": {"ok": True}},
        }
        for n in range(45)
    ]
    made = append(rows[:20], time=NOON)
    made += [
        append([row], time=NOON + datetime.timedelta(seconds=n))[0] for n, row in enumerate(rows[20:], 1)
    ]
    return made


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    assert response.streaming, "exports must stream"
    return b"".join(response.streaming_content)


def expected_ids(site: str | None = None) -> list[int]:
    events = AuditEvent.objects.all() if site is None else AuditEvent.objects.filter(site_slug=site)
    return list(events.order_by("-time", "-id").values_list("id", flat=True))


def test_csv_is_the_filtered_set_newest_first(personas, log):  # type: ignore[no-untyped-def]
    response = personas.client("viewer").get(reverse("audit-export-csv"), {"site": "acme"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [int(r["id"]) for r in rows] == expected_ids("acme") and len(rows) == 30
    assert list(rows[0]) == list(export.COLUMNS)
    sample = next(r for r in rows if r["before"])
    assert json.loads(sample["before"])["replicas"] + 1 == json.loads(sample["after"])["replicas"]


def test_both_csv_paths_agree(personas, log, monkeypatch):  # type: ignore[no-untyped-def]
    """PostgreSQL writes the CSV itself (COPY); elsewhere Python does, chunk by chunk."""
    client = personas.client("viewer")
    by_copy = body(client.get(reverse("audit-export-csv"), {"site": "acme"})).decode()
    monkeypatch.setattr(export, "COPY_CSV", False)
    by_python = body(client.get(reverse("audit-export-csv"), {"site": "acme"})).decode()
    assert list(csv.reader(io.StringIO(by_copy))) == list(csv.reader(io.StringIO(by_python)))
    assert "'=HYPERLINK" in by_python


def test_abandoned_download_leaves_the_connection_usable(log, monkeypatch):  # type: ignore[no-untyped-def]
    """A browser that goes away mid-export closes the stream inside COPY: the connection recovers."""
    monkeypatch.setattr(export, "BLOCK", 10)
    stream = export.stream(export.Filters.parse({}), "csv")
    next(stream), next(stream)  # the header, then the first block of the COPY
    stream.close()
    assert AuditEvent.objects.count() == 45


def test_a_download_abandoned_while_postgres_still_sends_leaves_the_transaction_usable(log, monkeypatch):  # type: ignore[no-untyped-def]
    """The close cancels a COPY the server is still sending (a busy machine, a long log): the query's
    error must not abort the transaction it ran in (a test's, or any caller's atomic block)."""
    from types import SimpleNamespace

    slow = "SELECT g, pg_sleep(0.002) FROM generate_series(1, 2000) AS g"
    query = SimpleNamespace(sql_with_params=lambda: (slow, ()))
    monkeypatch.setattr(export, "rows", lambda *a, **kw: SimpleNamespace(query=query))
    monkeypatch.setattr(export, "BLOCK", 10)
    stream = export.stream(export.Filters.parse({}), "csv")
    next(stream), next(stream)
    stream.close()
    assert AuditEvent.objects.count() == 45


def test_csv_cells_cannot_become_formulas(personas, log):  # type: ignore[no-untyped-def]
    text = body(personas.client("viewer").get(reverse("audit-export-csv"), {"site": "acme"})).decode()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_json_is_the_filtered_set_and_verifies(personas, log):  # type: ignore[no-untyped-def]
    response = personas.client("viewer").get(reverse("audit-export-json"), {"site": "beta"})
    assert response["Content-Type"] == "application/json"
    events = json.loads(body(response))
    assert [e["id"] for e in events] == expected_ids("beta") and len(events) == 15
    # An export is a faithful copy: each event's hash can be recomputed from it.
    for event in events:
        row = {**event, "time": datetime.datetime.fromisoformat(event["time"])}
        assert event_hash(row) == event["hash"]


def test_unfiltered_export_has_everything_once(personas, log):  # type: ignore[no-untyped-def]
    events = json.loads(body(personas.client("viewer").get(reverse("audit-export-json"))))
    ids = [e["id"] for e in events]
    # The export itself was recorded first, so it is in the export.
    assert ids == expected_ids() and events[0]["action"] == "audit.export"


def test_export_is_audited(personas, log):  # type: ignore[no-untyped-def]
    body(personas.client("viewer").get(reverse("audit-export-csv"), {"site": "acme", "actor": "x"}))
    event = AuditEvent.objects.filter(action="audit.export").latest("id")
    assert (event.actor_username, event.detail) == ("alice", "csv: actor=x, site=acme")


def test_bad_filters_are_refused(personas, log):  # type: ignore[no-untyped-def]
    response = personas.client("viewer").get(reverse("audit-export-csv"), {"since": "soon"})
    assert response.status_code == 400 and "not a date" in response.content.decode()


def test_asgi_gets_an_async_stream(personas, log):  # type: ignore[no-untyped-def]
    """Under an ASGI server a plain iterator would be read into memory whole before sending."""
    client = AsyncClient()

    async def fetch() -> tuple[bool, bytes]:
        await client.aforce_login(personas.users["viewer"])
        response = await client.get(reverse("audit-export-csv"), {"site": "acme"})
        content = response.streaming_content  # type: ignore[attr-defined]
        return hasattr(content, "__aiter__"), b"".join([chunk async for chunk in content])

    # async_to_sync keeps the view's database work on this thread, inside the test's transaction.
    is_async, data = async_to_sync(fetch)()
    assert is_async
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(data.decode()))] == expected_ids("acme")


def test_command_line_export(log, tmp_path):  # type: ignore[no-untyped-def]
    target = tmp_path / "out.json"
    call_command("audit", "export", "--format", "json", "--site", "beta", "--output", str(target))
    assert [e["id"] for e in json.loads(target.read_text())] == expected_ids("beta")
    event = AuditEvent.objects.filter(action="audit.export").latest("id")
    assert event.actor_username.startswith("cli:") and "site=beta" in event.detail
