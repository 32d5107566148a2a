"""Writing a job's log: one call sends a line to the live stream and to the stored log.

Two destinations with different jobs:
- a Redis Stream per job (`job:<id>:log`), for viewers who watch it live. Entry ids are `0-<seq>`,
  so a viewer's cursor (the last seq it has) is also a stream position: XREAD from `0-<seq>` returns
  exactly what came after, and a gap in seqs shows that something was missed.
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import redis
from django.conf import settings
from django.db import DatabaseError
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs.models import JobLogLine, Stream
from jobs.text import split_lines

log = logging.getLogger(__name__)

BATCH_LINES = 500
FLUSH_SECONDS = 0.25
STREAM_MAXLEN = 100_000  # older lines are in the database; the stream is for the live edge
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


def entry_fields(line: LogLine) -> dict[str, str]:
    # One field, "<unix time> <o|e|s> <text>": without hiredis, redis-py parses replies in Python,
    # and every extra field costs each reader (one per web process) time per line.
    return {"d": f"{line.time.timestamp():.6f} {STREAM_CODES.get(line.stream, 'o')} {line.text}"}


def line_from_entry(entry_id: bytes | str, fields: dict) -> LogLine | None:
    """A stream entry as a LogLine, or None for the end marker."""
    data = fields.get(b"d", fields.get("d"))
    if data is None:
        return None  # {"end": state}
    raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    text = data.decode() if isinstance(data, bytes) else data
    stamp, code, text = text.split(" ", 2)
    return LogLine(
        seq=int(raw_id.rpartition("-")[2]),
        time=datetime.fromtimestamp(float(stamp), UTC),
        stream=CODE_STREAMS.get(code, Stream.STDOUT),
        text=text,
    )


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
            for text, stream, at in lines:
                self.seq += 1
                batch.append(LogLine(self.seq, at or datetime.now(UTC), stream, text))
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
            if len(batch) == 1:
                self._xadd(self.client, batch[0])
                return
            pipe = self.client.pipeline(transaction=False)
            for line in batch:
                self._xadd(pipe, line)
            pipe.execute()

        self._stream_call(send)

    def _xadd(self, target: redis.Redis | redis.client.Pipeline, line: LogLine) -> None:
        target.xadd(
            self.key,
            entry_fields(line),  # type: ignore[arg-type]
            id=f"0-{line.seq}",
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
        """Store the buffered lines; returns how many. Lines stay buffered if the database fails."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                # ignore_conflicts: the reaper may have salvaged these lines from the stream already.
                JobLogLine.objects.bulk_create(
                    (
                        JobLogLine(job_id=self.job_id, seq=x.seq, time=x.time, stream=x.stream, text=x.text)
                        for x in batch
                    ),
                    batch_size=1000,
                    ignore_conflicts=True,
                )
            except DatabaseError:
                with self._lock:
                    self._buffer[:0] = batch
                log.warning(
                    "job %s: could not store %d log lines; will retry", self.job_id, len(batch), exc_info=True
                )
                return 0
            return len(batch)

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
