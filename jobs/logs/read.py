"""Reading a job's log: stored lines by seq, and following it live (for `manage.py job follow`).

The cursor is always the last seq a reader has. The stored log answers every question about the
past; the live stream only adds the edge that is not stored yet (lines reach the database in batches
every quarter second). A reader that finds a hole in the seqs (Redis restarted, the stream trimmed)
fills it from the database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import redis

from jobs.logs.store import LogLine, lines_from_entry, stream_client, stream_key
from jobs.models import Job, JobLogLine

CHUNK = 1000
ENTRIES = 50  # stream entries per read (each holds up to jobs.logs.store.ENTRY_LINES lines)
TAIL = 500
GAP_WAIT_SECONDS = 1.5  # a little over the flush interval: how long a hole may take to be stored
MAX_SEQ = 2**63 - 1  # JobLogLine.seq is a PositiveBigIntegerField
_SEQ = re.compile(r"[0-9]{1,19}")


class BadCursor(ValueError):
    """A cursor sent by a client that is not a seq: the view answers 400."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: a log line number (up to 19 ASCII digits) is expected")


def parse_seq(value: str | None) -> int | None:
    """A seq sent by a client, or None: ASCII digits only, up to the column's maximum. Not isdigit():
    it says yes to "²" (which int() refuses) and to "١٢" (which int() reads as 12)."""
    if value is None or _SEQ.fullmatch(value) is None:
        return None
    seq = int(value)
    return seq if seq <= MAX_SEQ else None


def cursor_param(value: str | None, name: str) -> int | None:
    """A cursor from a query parameter or header: None when absent or empty, BadCursor when not a seq."""
    if not value:
        return None
    seq = parse_seq(value)
    if seq is None:
        raise BadCursor(name)
    return seq


def _as_lines(rows: list[tuple[int, object, str, str]]) -> list[LogLine]:
    return [LogLine(seq, at, stream, text) for seq, at, stream, text in rows]  # type: ignore[arg-type]


FIELDS = ("seq", "time", "stream", "text")


def stored_after(job_id: int, after: int, limit: int = CHUNK, below: int | None = None) -> list[LogLine]:
    qs = JobLogLine.objects.filter(job_id=job_id, seq__gt=after)
    if below is not None:
        qs = qs.filter(seq__lt=below)
    return _as_lines(list(qs.order_by("seq").values_list(*FIELDS)[:limit]))


def stored_before(job_id: int, before: int | None, limit: int = TAIL) -> list[LogLine]:
    """The `limit` lines just before seq `before` (the tail when before is None), oldest first."""
    qs = JobLogLine.objects.filter(job_id=job_id)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    return _as_lines(list(qs.order_by("-seq").values_list(*FIELDS)[:limit]))[::-1]


def iter_stored(job_id: int, after: int = 0) -> Iterator[LogLine]:
    """Every stored line after the cursor, in chunks (keyset: never OFFSET over a million rows)."""
    while chunk := stored_after(job_id, after):
        yield from chunk
        after = chunk[-1].seq


def is_finished(job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, finished_at__isnull=False).exists()


def fill_gap(job_id: int, after: int, upto: int) -> list[LogLine]:
    """Lines after < seq < upto from the database, waiting briefly for a batch not stored yet."""
    deadline = time.monotonic() + GAP_WAIT_SECONDS
    while True:
        lines = stored_after(job_id, after, limit=upto - after, below=upto)
        if len(lines) >= upto - after - 1 or time.monotonic() > deadline or is_finished(job_id):
            return lines
        time.sleep(0.2)


def _read(client: redis.Redis, key: str, after: int, block_ms: int) -> list[tuple[bytes, dict]]:
    try:
        reply = client.xread({key: f"0-{after}"}, count=ENTRIES, block=block_ms)
    except redis.RedisError:
        time.sleep(block_ms / 1000)  # the stream is down: the database still has everything
        return []
    return list(reply[0][1]) if reply else []


def follow(
    job_id: int, after: int = 0, *, client: redis.Redis | None = None, block_ms: int = 1000
) -> Iterator[LogLine]:
    """Every line after the cursor, as it arrives, until the job has finished and all is read."""
    client = client or stream_client()
    key = stream_key(job_id)
    entries: list[tuple[bytes, dict]] = []
    while True:
        if not entries:
            # First pass, or the stream was quiet or down: the database has all but the last
            # quarter second. Asked before reading, "finished" means nothing can follow.
            finished = is_finished(job_id)
            for stored in iter_stored(job_id, after):
                yield stored
                after = stored.seq
            if finished:
                return
        entries = _read(client, key, after, block_ms)
        for entry_id, fields in entries:
            lines = lines_from_entry(entry_id, fields)
            if lines is None:  # the end marker: the runner stored everything before writing it
                yield from iter_stored(job_id, after)
                return
            for live in lines:
                if live.seq <= after:
                    continue
                for missing in fill_gap(job_id, after, live.seq) if live.seq > after + 1 else []:
                    yield missing
                    after = missing.seq
                yield live
                after = live.seq
