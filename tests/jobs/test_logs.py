"""Writing logs: one call reaches the live stream and, in batches, the stored log."""

from __future__ import annotations

import time

import pytest

from jobs.logs import LogWriter, line_from_entry, stream_client, stream_key
from jobs.models import JobLogLine
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def stream_seqs(job_id: int) -> list[int]:
    entries = stream_client().xrange(stream_key(job_id))
    return [line.seq for line in (line_from_entry(i, f) for i, f in entries) if line]


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
    LogWriter(job.pk).write("\x1b[31mred\x1b[0m <b>")
    [(entry_id, fields)] = stream_client().xrange(stream_key(job.pk))
    line = line_from_entry(entry_id, fields)
    assert entry_id == b"0-1" and line is not None
    assert (line.seq, line.stream, line.text) == (1, "stdout", "red <b>")


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
