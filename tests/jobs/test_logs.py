"""Writing logs: one call reaches the live stream and, in batches, the stored log."""

from __future__ import annotations

import time

import pytest

from jobs.logs.store import LogWriter, lines_from_entry, stream_client, stream_key
from jobs.models import JobLogLine
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def stream_seqs(job_id: int) -> list[int]:
    entries = stream_client().xrange(stream_key(job_id))
    return [line.seq for i, f in entries for line in lines_from_entry(i, f) or []]


def test_a_line_goes_to_the_stream_at_once_and_to_the_database_in_batches():
    job = factories.job()
    writer = LogWriter(job.pk, batch_lines=5)
    writer.write("one\ntwo", "stderr")
    assert stream_seqs(job.pk) == [1, 2]
    assert JobLogLine.objects.filter(job=job).count() == 0  # buffered
    writer.write("three\nfour\nfive")
    assert JobLogLine.objects.filter(job=job).count() == 5  # the batch is full
    writer.write("six")
    writer.close("succeeded")
    rows = list(JobLogLine.objects.filter(job=job).order_by("seq").values_list("seq", "stream", "text"))
    assert rows[0] == (1, "stderr", "one") and rows[-1] == (6, "stdout", "six")
    entries = stream_client().xrange(stream_key(job.pk))
    assert entries[-1][1] == {b"end": b"succeeded"}  # the end marker tells live viewers
    assert 0 < stream_client().ttl(stream_key(job.pk)) <= 3600


def test_stream_entries_carry_seq_time_stream_and_cleaned_text():
    job = factories.job()
    writer = LogWriter(job.pk)
    writer.write("\x1b[31mred\x1b[0m <b>")
    writer.write_many([("one", "stderr", None), ("two\nlines", "system", None)])
    [(first_id, first), (second_id, second)] = stream_client().xrange(stream_key(job.pk))
    assert (first_id, second_id) == (b"0-1", b"0-3")  # one entry per write, named by its last seq
    lines = (lines_from_entry(first_id, first) or []) + (lines_from_entry(second_id, second) or [])
    assert [(x.seq, x.stream, x.text) for x in lines] == [
        (1, "stdout", "red <b>"),
        (2, "stderr", "one"),
        (3, "system", "two lines"),
    ]


def test_without_redis_every_line_still_reaches_the_database(settings, caplog):
    settings.JOB_LOG_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    job = factories.job()
    started = time.monotonic()
    writer = LogWriter(job.pk, batch_lines=3)
    for n in range(10):
        writer.write(f"line {n}")
    writer.close("failed")
    assert list(JobLogLine.objects.filter(job=job).values_list("text", flat=True)) == [
        f"line {n}" for n in range(10)
    ]
    assert "live log stream unavailable" in caplog.text
    assert time.monotonic() - started < 1  # a dead Redis does not stall the job


def test_a_reused_job_id_starts_a_clean_stream():
    job = factories.job()
    stream_client().xadd(stream_key(job.pk), {"d": "1.0 o stale"}, id="0-99")
    LogWriter(job.pk).write("fresh")
    assert stream_seqs(job.pk) == [1]


def test_a_full_batch_wakes_the_flusher_instead_of_writing_inline():
    job = factories.job()
    writer = LogWriter(job.pk, batch_lines=3)
    woken: list[int] = []
    writer.on_batch = lambda: woken.append(writer.pending)
    writer.write("a\nb\nc\nd")
    assert woken == [4] and JobLogLine.objects.filter(job=job).count() == 0  # the line was not delayed
    assert writer.flush() == 4 and JobLogLine.objects.filter(job=job).count() == 4


def stored(job_id: int) -> list[tuple[int, str]]:
    return list(JobLogLine.objects.filter(job_id=job_id).order_by("seq").values_list("seq", "text"))


def test_two_writers_after_the_same_seq_lose_nothing():
    # A worker stalls past the reaper's bound; the reaper logs why it ended the job; the worker
    # wakes and logs on from the seq it had. Both continued from seq 2.
    job = factories.job()
    first = LogWriter(job.pk)
    first.write("Started\nStep 1")
    first.flush()
    worker = LogWriter(job.pk, last_seq=2)
    worker.write("still working\nStopped: the reaper had already ended this job")
    reaper = LogWriter(job.pk, last_seq=2)
    reaper.write("Failed: worker died")
    reaper.flush()
    assert worker.flush() == 2
    assert stored(job.pk) == [
        (1, "Started"),
        (2, "Step 1"),
        (3, "Failed: worker died"),
        (4, "still working"),  # moved after the reaper's line, in their order
        (5, "Stopped: the reaper had already ended this job"),
    ]
    worker.write("one more")  # and the worker goes on from there
    worker.flush()
    assert stored(job.pk)[-1] == (6, "one more")


def test_a_line_already_stored_as_it_is_is_not_stored_twice():
    # The reaper salvages lines that only reached the stream; the writer then stores the same lines.
    job = factories.job()
    writer = LogWriter(job.pk)
    writer.write("a\nb")
    salvaged = LogWriter(job.pk)
    salvaged.seq = 0
    salvaged._buffer = list(writer._buffer)  # the same lines, as salvage copies them
    salvaged.flush()
    writer.write("c")
    writer.flush()
    assert stored(job.pk) == [(1, "a"), (2, "b"), (3, "c")]
