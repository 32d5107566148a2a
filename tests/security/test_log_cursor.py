"""A log cursor (`?after=`, `?before=`, `Last-Event-ID`) is ASCII digits within the seq column's range;
anything else is a 400, never a 500. `"²".isdigit()` is True and `int("²")` raises; `int("١٢")` is 12;
`int()` refuses more than 4,300 digits; the column stops at 2**63-1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from django.urls import reverse

from jobs.logs.read import MAX_SEQ, parse_seq
from jobs.logs.sse import cursor
from jobs.models import JobLogLine, State
from tests import factories

pytestmark = pytest.mark.django_db

BAD = [
    "²",
    "1²",
    "١٢",  # Arabic-Indic digits: int() reads them as 12
    "１",  # a fullwidth digit
    "9" * 5000,
    str(MAX_SEQ + 1),
    "9" * 20,
    "-1",
    "+1",
    " 1",
    "1 ",
    "1\n",
    "0x10",
    "1_000",
    "1.0",
]


@pytest.fixture
def job():  # type: ignore[no-untyped-def]
    job = factories.job(factories.site(factories.cluster(), slug="acme"), state=State.SUCCEEDED)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    JobLogLine.objects.bulk_create(JobLogLine(job=job, seq=n, time=at, text=f"line {n}") for n in range(1, 6))
    return job


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("name", ["after", "before"])
def test_a_bad_cursor_on_the_log_is_a_400(personas, job, name, value):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    client.raise_request_exception = False
    response = client.get(reverse("job-log", args=[job.pk]), {name: value})
    assert response.status_code == 400, response.status_code
    assert name in response.content.decode()


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("where", ["after", "Last-Event-ID"])
def test_a_bad_cursor_on_the_event_stream_is_a_400(personas, job, where, value):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    client.raise_request_exception = False
    url = reverse("job-events", args=[job.pk])
    if where == "after":
        response = client.get(url, {"after": value})
    else:
        response = client.get(url, headers={"Last-Event-ID": value})
    assert response.status_code == 400, response.status_code
    assert where in response.content.decode()


def test_good_cursors_still_work(personas, job):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    assert b"line 5" in client.get(reverse("job-log", args=[job.pk]), {"after": "4"}).content
    response = client.get(reverse("job-log", args=[job.pk]), {"after": str(MAX_SEQ)})
    assert response.status_code == 286 and b"line" not in response.content  # nothing after; stop polling
    earlier = client.get(reverse("job-log", args=[job.pk]), {"before": "3"}).content
    assert b"line 2" in earlier and b"line 3" not in earlier
    assert client.get(reverse("job-log", args=[job.pk]), {"after": ""}).status_code == 286  # absent: 0


def test_the_event_cursor_reads_header_and_query() -> None:
    factory = RequestFactory()
    assert cursor(factory.get("/", {"after": "3"}, headers={"Last-Event-ID": "15"})) == 15
    assert cursor(factory.get("/", {"after": "30"}, headers={"Last-Event-ID": "15"})) == 30
    assert cursor(factory.get("/")) == 0
    assert cursor(factory.get("/", {"after": ""})) == 0


def test_parse_seq() -> None:
    assert parse_seq("0") == 0 and parse_seq("007") == 7 and parse_seq(str(MAX_SEQ)) == MAX_SEQ
    assert parse_seq("") is None and parse_seq(None) is None
    for value in BAD:
        assert parse_seq(value) is None, value
