"""Writing a job's log: one call sends a line to the live stream and to the stored log.

Two destinations with different jobs:
- a Redis Stream per job (`job:<id>:log`), for viewers who watch it live. One entry per write (one
  line, or the batch a log follower hands over), with id `0-<seq of its last line>`: a viewer's
  cursor (the last seq it has) is also a stream position, XREAD from `0-<seq>` returns what came
  after, and a gap in seqs shows that something was missed. Batches matter for speed: without
  hiredis redis-py packs and parses in Python, and 5,000 lines a second as 5,000 entries would cost
  the worker and every web process more than the rest of the pipeline together.
- the JobLogLine table, written in batches (every BATCH_LINES lines, every FLUSH_SECONDS, and at the
  end; in a runner the background thread writes them). This is the log of record.

The stored log never depends on Redis: when an XADD fails the line is still buffered for the
database, the stream is skipped for a second, a warning is logged once, and viewers fill the hole
from the database (their seq cursor shows the gap).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs.logs.text import split_lines
from jobs.models import JobLogLine, Stream
from panel.metrics import events as metric_events

log = logging.getLogger(__name__)

BATCH_LINES = 500
FLUSH_SECONDS = 0.25
STREAM_MAXLEN = 20_000  # entries; older lines are in the database, the stream is for the live edge
ENTRY_LINES = 500  # lines per stream entry at most
STREAM_TTL = 3600  # seconds a finished job's stream is kept for late viewers
RETRY_STREAM_AFTER = 1.0

STREAM_CODES: dict[str, str] = {Stream.STDOUT: "o", Stream.STDERR: "e", Stream.SYSTEM: "s"}
CODE_STREAMS: dict[str, str] = {v: k for k, v in STREAM_CODES.items()}


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    time: datetime
    stream: str
    text: str


def last_seq(job_id: int) -> int:
    """The highest stored seq of a job's log (0 if none)."""
    found = JobLogLine.objects.filter(job_id=job_id).order_by("-seq").values_list("seq", flat=True).first()
    return found or 0


def stream_key(job_id: int) -> str:
    return f"job:{job_id}:log"


def stream_url() -> str:
    return str(getattr(settings, "JOB_LOG_REDIS_URL", settings.REDIS_URL))


def quick_retry() -> Retry:
    """One immediate retry (a pooled connection gone stale after a Redis restart), no backoff:
    redis-py's default backs off for seconds, which would stall a job while Redis is down."""
    return Retry(NoBackoff(), 1)


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a dead Redis must cost a job at most a second, not stall it.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1, retry=quick_retry())


def stream_client() -> redis.Redis:
    """The per-process client for the log streams (redis-py pools are fork- and thread-safe)."""
    return _client(stream_url())


def entry_fields(lines: list[LogLine]) -> dict[str, str]:
    """One entry's payload: a field "d" with a line per log line, "<unix time> <o|e|s> <text>"."""
    codes = STREAM_CODES
    return {"d": "\n".join(f"{x.time.timestamp():.6f} {codes.get(x.stream, 'o')} {x.text}" for x in lines)}


def lines_from_entry(entry_id: bytes | str, fields: dict) -> list[LogLine] | None:
    """A stream entry as its log lines (consecutive seqs ending at the id), or None for the end marker."""
    data = fields.get(b"d", fields.get("d"))
    if data is None:
        return None  # {"end": state}
    raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    rows = (data.decode() if isinstance(data, bytes) else data).split("\n")
    first = int(raw_id.rpartition("-")[2]) - len(rows) + 1
    lines = []
    for offset, row in enumerate(rows):
        stamp, code, text = row.split(" ", 2)
        lines.append(
            LogLine(
                first + offset,
                datetime.fromtimestamp(float(stamp), UTC),
                CODE_STREAMS.get(code, "stdout"),
                text,
            )
        )
    return lines


def store(job_id: int, lines: list[LogLine]) -> list[LogLine]:
    """Insert lines into the stored log. Returns the lines it did not store because another writer
    holds the seq of one of them with a different line (a worker that stalled past the reaper's
    bound and woke up, both logging after the same last seq): that line and those after it. A line
    already stored as it is (the reaper salvaged it from the stream) is not stored twice.
    On PostgreSQL with COPY: building a Django model per line and an INSERT for the batch cost the
    worker more than everything else a line goes through."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                table = JobLogLine._meta.db_table
                with cursor.cursor.copy(f"COPY {table} (job_id, seq, time, stream, text) FROM STDIN") as copy:
                    for x in lines:
                        copy.write_row((job_id, x.seq, x.time, x.stream, x.text))
            return []
        except (IntegrityError, psycopg.IntegrityError):  # raw COPY: psycopg's error, not Django's
            pass  # some seqs are taken: sort the lines out below
    with transaction.atomic():
        held = {
            seq: (stream, text)
            for seq, stream, text in JobLogLine.objects.filter(
                job_id=job_id, seq__in=[x.seq for x in lines]
            ).values_list("seq", "stream", "text")
        }

        def same(x: LogLine) -> bool:
            return held.get(x.seq) == (x.stream, x.text)

        # From the first line another writer holds on, the lines wait for new seqs (in order).
        first = next((i for i, x in enumerate(lines) if x.seq in held and not same(x)), len(lines))
        JobLogLine.objects.bulk_create(
            (
                JobLogLine(job_id=job_id, seq=x.seq, time=x.time, stream=x.stream, text=x.text)
                for x in lines[:first]
                if x.seq not in held
            ),
            batch_size=1000,
            ignore_conflicts=True,
        )
    return [x for x in lines[first:] if not same(x)]


class LogWriter:
    """Thread-safe writer of one job's log. Seqs are given here, so one job has one writer."""

    def __init__(
        self,
        job_id: int,
        *,
        last_seq: int = 0,
        client: redis.Redis | None = None,
        batch_lines: int = BATCH_LINES,
    ) -> None:
        self.job_id = job_id
        self.key = stream_key(job_id)
        self.seq = last_seq
        self.client = client or stream_client()
        self.batch_lines = batch_lines
        # Set by the runner's background thread: a full batch wakes it instead of being written
        # here, so the line that filled it is not delayed by a database round trip.
        self.on_batch: Callable[[], None] | None = None
        self._buffer: list[LogLine] = []
        self._lock = threading.Lock()  # seq order == stream order == buffer order
        self._flush_lock = threading.Lock()
        self._stream_down_until = 0.0
        self._warned = False
        if last_seq == 0:
            # A fresh job: drop any stream a reused id left behind (test databases restart ids).
            self._stream_call(lambda: self.client.delete(self.key), force=True)

    def write(self, text: str, stream: str = Stream.STDOUT, at: datetime | None = None) -> int:
        """Log text (split into lines, cleaned); returns the seq of the last line written."""
        return self.write_many((line, stream, at) for line in split_lines(str(text)))

    def write_many(self, lines: Iterable[tuple[str, str, datetime | None]]) -> int:
        """Several already-split lines at once: one round trip to Redis for all of them."""
        with self._lock:
            batch = []
            now = None
            for text, stream, at in lines:
                self.seq += 1
                if "\n" in text:  # one line is one line, in the stream's format too
                    text = text.replace("\n", " ")
                batch.append(LogLine(self.seq, at or now or (now := datetime.now(UTC)), stream, text))
            if not batch:
                return self.seq
            self._buffer.extend(batch)
            self._publish(batch)
            due = len(self._buffer) >= self.batch_lines
            last = self.seq
        if due:
            if self.on_batch is not None and len(self._buffer) < self.batch_lines * 20:
                self.on_batch()
            else:
                self.flush()  # no flusher, or it cannot keep up: write here (bounds the memory)
        return last

    def _publish(self, batch: list[LogLine]) -> None:
        def send() -> None:
            if len(batch) <= ENTRY_LINES:
                self._xadd(self.client, batch)
                return
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(batch), ENTRY_LINES):
                self._xadd(pipe, batch[start : start + ENTRY_LINES])
            pipe.execute()

        self._stream_call(send)

    def _xadd(self, target: redis.Redis | redis.client.Pipeline, lines: list[LogLine]) -> None:
        target.xadd(
            self.key,
            entry_fields(lines),  # type: ignore[arg-type]
            id=f"0-{lines[-1].seq}",
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )

    def _stream_call(self, call: Callable[[], object], *, force: bool = False) -> bool:
        """Run a Redis call unless the stream is known down; never raises."""
        if not force and time.monotonic() < self._stream_down_until:
            return False
        try:
            call()
        except redis.RedisError as exc:
            self._stream_down_until = time.monotonic() + RETRY_STREAM_AFTER
            if not self._warned:
                log.warning(
                    "job %s: live log stream unavailable (%s); lines go to the database only",
                    self.job_id,
                    exc,
                )
                self._warned = True
            return False
        if self._warned:
            log.warning("job %s: live log stream is back", self.job_id)
            self._warned = False
        return True

    def flush(self) -> int:
        """Store the buffered lines; returns how many. Lines stay buffered if the database fails.
        Lines whose seqs another writer took are stored after that writer's lines, with the rest
        of the buffer, and this writer goes on from there: nothing is dropped."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            stored = 0
            written: Counter[tuple[str, ...]] = Counter()
            while batch:
                try:
                    clashed = store(self.job_id, batch)
                except DatabaseError:
                    with self._lock:
                        self._buffer[:0] = batch
                    log.warning(
                        "job %s: could not store %d log lines; will retry",
                        self.job_id,
                        len(batch),
                        exc_info=True,
                    )
                    break
                stored += len(batch) - len(clashed)
                written.update((x.stream,) for x in batch)
                written.subtract((x.stream,) for x in clashed)
                batch = self._renumber(clashed) if clashed else []
            metric_events.add("job_log_lines", written)  # never raises; one Redis round trip a flush
            return stored

    def _renumber(self, clashed: list[LogLine]) -> list[LogLine]:
        """The clashed lines and everything buffered after them, given seqs after the stored log's
        last; the live stream does not get them (its ids must grow, and viewers of a job another
        writer logs to read the stored log once it ends)."""
        with self._lock:
            rest, self._buffer = self._buffer, []
            top = last_seq(self.job_id)  # every line of this writer not stored yet is in `moved`
            moved = [
                LogLine(top + n, x.time, x.stream, x.text) for n, x in enumerate([*clashed, *rest], start=1)
            ]
            self.seq = top + len(moved)
        log.warning(
            "job %s: %d log lines clashed with another writer's; stored after its lines from seq %d",
            self.job_id,
            len(clashed),
            top + 1,
        )
        return moved

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def close(self, state: str) -> None:
        """Store everything and tell live viewers the job ended (they then read the database)."""
        self.flush()

        def end() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(self.key, {"end": state}, id=f"0-{self.seq + 1}")
            pipe.expire(self.key, STREAM_TTL)
            pipe.execute()

        self._stream_call(end, force=True)
