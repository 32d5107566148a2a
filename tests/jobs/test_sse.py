"""Live logs over server-sent events, served by uvicorn (ASGI) from the test database and Redis."""

from __future__ import annotations

import httpx
import pytest
from django.utils import timezone

from jobs.logs.store import LogWriter
from jobs.models import Job, State
from tests import factories
from tests.jobs.helpers import SSEReader, session_cookie, user
from tests.jobs.services import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def running_job() -> Job:
    return factories.job(
        kind="deploy",
        mutating=False,
        state=State.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def finish(job: Job, writer: LogWriter, state: str = State.SUCCEEDED) -> None:
    """What the runner does at the end: store every line, mark finished, tell live viewers."""
    writer.flush()
    Job.objects.filter(pk=job.pk).update(state=state, finished_at=timezone.now())
    writer.close(state)


def events_url(server, job: Job, after: int | None = None) -> str:  # type: ignore[no-untyped-def]
    return f"{server.base}/jobs/{job.pk}/events" + (f"?after={after}" if after is not None else "")


def test_lines_arrive_live_and_the_stream_closes_when_the_job_ends(asgi_server):
    job = running_job()
    writer = LogWriter(job.pk)
    for n in range(1, 6):
        writer.write(f"before {n}")
    writer.flush()
    writer.write("in the stream only")  # not stored yet: the stream brings it
    reader = SSEReader(events_url(asgi_server, job, after=0), session_cookie(user("alice", "viewer"))).start()
    wait_for(lambda: len(reader.seqs()) >= 6, 10, "the first lines")
    assert reader.status == 200 and reader.content_type.startswith("text/event-stream")
    for n in range(1, 201):
        writer.write(f"live {n} <b>bold</b>", "stderr" if n % 2 else "stdout")
    wait_for(lambda: len(reader.seqs()) >= 206, 10, "the live lines")
    finish(job, writer)
    assert reader.done.wait(10), "the stream did not close after the job ended"
    assert reader.error is None
    assert reader.seqs() == list(range(1, 207))  # every line once, in order
    end = reader.ended()
    assert end is not None and "Succeeded" in end["data"]
    line_events = [e for e in reader.events if e.get("event") == "line"]
    assert all(int(e["id"]) == int(e["data"].rsplit('data-seq="', 1)[1].split('"')[0]) for e in line_events)
    assert "&lt;b&gt;bold&lt;/b&gt;" in "".join(e["data"] for e in line_events)


def test_a_reconnecting_browser_resumes_after_last_event_id(asgi_server):
    job = running_job()
    writer = LogWriter(job.pk)
    for n in range(1, 21):
        writer.write(f"line {n}")
    writer.flush()
    cookie = session_cookie(user("alice", "viewer"))
    reader = SSEReader(events_url(asgi_server, job, after=3), cookie, {"Last-Event-ID": "15"}).start()
    wait_for(lambda: reader.seqs(), 10, "lines after 15")
    writer.write("line 21")
    wait_for(lambda: 21 in reader.seqs(), 10, "the live line")
    finish(job, writer)
    assert reader.done.wait(10)
    assert reader.seqs() == [16, 17, 18, 19, 20, 21]


def test_a_finished_job_is_served_from_the_database(asgi_server, private_redis):
    import redis

    job = running_job()
    writer = LogWriter(job.pk)
    for n in range(1, 2501):
        writer.write(f"line {n}")
    finish(job, writer, State.FAILED)
    redis.Redis.from_url(private_redis.url(0)).delete(f"job:{job.pk}:log")  # the stream has expired
    reader = SSEReader(events_url(asgi_server, job), session_cookie(user("alice", "viewer"))).start()
    assert reader.done.wait(15)
    assert reader.seqs() == list(range(1, 2501))
    assert "Failed" in (reader.ended() or {}).get("data", "")


def test_many_viewers_each_get_every_line(asgi_server):
    job = running_job()
    writer = LogWriter(job.pk)
    cookie = session_cookie(user("alice", "viewer"))
    readers = [SSEReader(events_url(asgi_server, job, after=0), cookie).start() for _ in range(12)]
    wait_for(lambda: all(r.status == 200 for r in readers), 10, "every viewer to connect")
    for n in range(1, 3001):
        writer.write(f"line {n}")
    finish(job, writer)
    for r in readers:
        assert r.done.wait(20) and r.error is None
        assert r.seqs() == list(range(1, 3001))


def test_events_need_a_login_and_a_real_job(asgi_server):
    job = running_job()
    response = httpx.get(events_url(asgi_server, job), follow_redirects=False, timeout=5)
    assert response.status_code == 302 and "/login/" in response.headers["location"]
    cookie = session_cookie(user("alice", "viewer"))
    assert httpx.get(f"{asgi_server.base}/jobs/999999/events", cookies=cookie, timeout=5).status_code == 404
    nobody = session_cookie(user("mallory", "viewer"))
    from django.contrib.auth.models import Group

    Group.objects.get(name="viewer").user_set.clear()  # mallory (and alice) lose their role
    assert httpx.get(events_url(asgi_server, job), cookies=nobody, timeout=5).status_code == 403


def test_the_job_page_and_download_work_under_asgi(asgi_server):
    job = running_job()
    writer = LogWriter(job.pk)
    for n in range(1, 1501):
        writer.write(f"line {n}")
    finish(job, writer)
    cookie = session_cookie(user("alice", "viewer"))
    page = httpx.get(f"{asgi_server.base}/jobs/{job.pk}/", cookies=cookie, timeout=10)
    assert page.status_code == 200 and "line 1500" in page.text
    with httpx.stream("GET", f"{asgi_server.base}/jobs/{job.pk}/log.txt", cookies=cookie, timeout=10) as r:
        body = b"".join(r.iter_bytes()).decode()
    assert r.status_code == 200 and body.count("\n") == 1500 and body.rstrip().endswith("line 1500")
