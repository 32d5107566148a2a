"""The jobs pages: list with filters, job page with timeline and log tail, log partials, download, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.logs.html import line_html
from jobs.logs.store import LogLine
from jobs.models import Job, JobLogLine, State
from tests import factories

pytestmark = pytest.mark.django_db


def add_lines(job: Job, count: int, text: str = "line {n}", start: int = 1) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    JobLogLine.objects.bulk_create(
        JobLogLine(job=job, seq=n, time=at, text=text.format(n=n)) for n in range(start, start + count)
    )


def seqs(html: str) -> list[int]:
    from tests.jobs.helpers import SEQ

    return [int(s) for s in SEQ.findall(html)]


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    return factories.site(factories.cluster(), slug="acme")


def test_list_filters_by_site_kind_state_user_and_date(personas, site):
    other = factories.site(factories.cluster(), slug="globex")
    bob = personas.users["operator"]
    a = factories.job(site, kind="deploy", state=State.SUCCEEDED, created_by=bob, created_by_name="bob")
    b = factories.job(other, kind="module_update", state=State.FAILED, created_by_name="dave")
    c = factories.job(
        site,
        kind="module_update",
        state=State.RUNNING,
        created_by_name="bob",
        created_at=timezone.now() - timedelta(days=3),
    )
    client = personas.client("viewer")

    def listed(**query: str) -> set[int]:
        response = client.get(reverse("job-list"), query)
        assert response.status_code == 200
        return {job.pk for job in response.context["page"].object_list}

    assert listed() == {a.pk, b.pk, c.pk}
    assert listed(site="acme") == {a.pk, c.pk}
    assert listed(kind="module_update") == {b.pk, c.pk}
    assert listed(state="failed") == {b.pk}
    assert listed(user="bob") == {a.pk, c.pk}
    today = timezone.now().date().isoformat()
    assert listed(since=today) == {a.pk, b.pk}
    assert listed(until=(timezone.now() - timedelta(days=2)).date().isoformat()) == {c.pk}
    assert listed(state="bogus", since="not-a-date") == {a.pk, b.pk, c.pk}
    assert listed(q="globex") == {b.pk}


def test_list_partial_for_htmx_keeps_filters_in_pagination(personas, site):
    for _ in range(30):
        factories.job(site, kind="sync", mutating=False, state=State.SUCCEEDED)
    response = personas.client("viewer").get(reverse("job-list"), {"site": "acme"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<h1>" not in html and "page=2&amp;site=acme" in html


def test_job_page_shows_timeline_and_the_tail_of_a_long_log(personas, site):
    job = factories.job(
        site,
        kind="deploy",
        state=State.RUNNING,
        started_at=timezone.now(),
        steps=[
            {
                "name": "pull",
                "state": "succeeded",
                "started_at": timezone.now().isoformat(),
                "finished_at": timezone.now().isoformat(),
            },
            {"name": "update", "state": "running", "started_at": timezone.now().isoformat()},
            {"name": "verify", "state": "pending"},
        ],
    )
    add_lines(job, 2000)
    response = personas.client("viewer").get(job.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert seqs(html) == list(range(1501, 2001))  # the tail only
    assert f'hx-get="/jobs/{job.pk}/log?before=1501"' in html  # and a way to earlier lines
    assert f'sse-connect="/jobs/{job.pk}/events?after=2000"' in html and 'sse-close="end"' in html
    assert 'aria-current="step"' in html and "update" in html and "so far" in html
    assert "Cancel job" not in html  # a viewer cannot cancel


def test_job_page_polling_variant_and_operator_cancel_button(personas, site):
    job = factories.job(site, state=State.RUNNING)
    html = personas.client("operator").get(job.get_absolute_url(), {"live": "poll"}).content.decode()
    assert "sse-connect" not in html and f'hx-get="/jobs/{job.pk}/log?after=0"' in html
    assert "Cancel job" in html


def test_finished_job_page_has_no_live_stream(personas, site):
    job = factories.job(site, state=State.SUCCEEDED, finished_at=timezone.now())
    add_lines(job, 3)
    html = personas.client("viewer").get(job.get_absolute_url()).content.decode()
    assert "sse-connect" not in html and seqs(html) == [1, 2, 3] and "log-earlier" not in html


def test_summary_partial_stops_polling_when_finished(personas, site):
    job = factories.job(site, state=State.RUNNING)
    client = personas.client("viewer")
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "job-summary"}
    running = client.get(job.get_absolute_url(), **headers)
    assert running.status_code == 200 and "toast" not in running.content.decode()
    Job.objects.filter(pk=job.pk).update(state=State.FAILED, finished_at=timezone.now())
    response = client.get(job.get_absolute_url(), **headers)
    html = response.content.decode()
    assert response.status_code == 286 and "<h1>" not in html
    # the end is also told by a toast, swapped out of band into the page's toast area
    assert 'id="toasts" hx-swap-oob="beforeend"' in html and '<div class="toast error"' in html
    assert f"{job}: failed" in html


def test_load_earlier_returns_the_previous_chunk_and_a_new_button(personas, site):
    job = factories.job(site, state=State.SUCCEEDED, finished_at=timezone.now())
    add_lines(job, 1200)
    client = personas.client("viewer")
    html = client.get(reverse("job-log", args=[job.pk]), {"before": 1001}).content.decode()
    assert seqs(html) == list(range(501, 1001)) and "?before=501" in html
    html = client.get(reverse("job-log", args=[job.pk]), {"before": 300}).content.decode()
    assert seqs(html) == list(range(1, 300)) and "log-earlier" not in html


def test_polling_returns_lines_after_the_cursor_then_286(personas, site):
    job = factories.job(site, state=State.RUNNING)
    add_lines(job, 5)
    client = personas.client("viewer")
    url = reverse("job-log", args=[job.pk])
    response = client.get(url, {"after": 2})
    html = response.content.decode()
    assert response.status_code == 200 and seqs(html) == [3, 4, 5]
    assert 'id="log-poller" hx-swap-oob="true"' in html and "after=5" in html  # the next cursor
    assert seqs(client.get(url, {"after": 5}).content.decode()) == []
    Job.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at=timezone.now())
    add_lines(job, 1, start=6)
    response = client.get(url, {"after": 5})
    assert response.status_code == 286 and seqs(response.content.decode()) == [6]
    assert "log-poller" not in response.content.decode()


def test_log_text_is_escaped_everywhere(personas, site):
    job = factories.job(site, state=State.RUNNING)
    JobLogLine.objects.create(job=job, seq=1, time=timezone.now(), text='<script>alert("x")</script> & co')
    client = personas.client("viewer")
    for html in (
        client.get(job.get_absolute_url()).content.decode(),
        client.get(reverse("job-log", args=[job.pk]), {"after": 0}).content.decode(),
    ):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html


def test_template_and_stream_render_the_same_markup(personas, site):
    from django.template.loader import render_to_string

    line = LogLine(7, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "stderr", "<b>'x'</b> & \"y\"")
    assert render_to_string("jobs/partials/log_lines.html", {"lines": [line]}).strip() == line_html(line)
    plain = LogLine(8, line.time, "stdout", "ok")
    assert render_to_string("jobs/partials/log_lines.html", {"lines": [plain]}).strip() == line_html(plain)


def test_download_streams_the_whole_log_as_text(personas, site):
    job = factories.job(site, kind="deploy", state=State.SUCCEEDED, finished_at=timezone.now())
    add_lines(job, 2500)
    JobLogLine.objects.create(job=job, seq=2501, time=timezone.now(), stream="stderr", text="<oops>")
    response = personas.client("viewer").get(reverse("job-log-download", args=[job.pk]))
    assert response.streaming and response["Content-Type"].startswith("text/plain")
    assert f'filename="job-{job.pk}-deploy-acme.log"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode().splitlines()
    assert len(text) == 2501
    assert text[0] == "2026-01-02T03:04:05.000+00:00 line 1" and text[-1].endswith("[stderr] <oops>")


def test_cancel_button(personas, site):
    job = factories.job(site, kind="deploy")
    url = reverse("job-cancel", args=[job.pk])
    assert personas.client("viewer").post(url).status_code == 403
    assert personas.client("operator").get(url).status_code == 405
    response = personas.client("operator").post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == job.get_absolute_url()
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.cancelled_by_name == "bob"


def test_jobs_link_in_the_navigation(personas):
    html = personas.client("viewer").get(reverse("dashboard")).content.decode()
    assert 'href="/jobs/"' in html


def test_a_huge_log_renders_only_its_tail_quickly(personas, site):
    import time

    from jobs.logs.store import LogLine, store

    job = factories.job(site, state=State.RUNNING)
    at = timezone.now()
    for start in range(1, 200_001, 50_000):
        store(job.pk, [LogLine(n, at, "stdout", f"line {n}") for n in range(start, start + 50_000)])
    client = personas.client("viewer")
    started = time.monotonic()
    html = client.get(job.get_absolute_url()).content.decode()
    assert time.monotonic() - started < 2
    assert seqs(html) == list(range(199_501, 200_001))
    earlier = client.get(reverse("job-log", args=[job.pk]), {"before": 100_000}).content.decode()
    assert seqs(earlier) == list(range(99_500, 100_000))
