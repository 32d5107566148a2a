"""Following a Swarm service's (or one task's) logs into a job's log.

    with follow_service(self, client, "acme_update") as follower:   # inside JobRunner.run()
        exit_code = wait_for_task(...)                              # lines flow in meanwhile
    self.log(f"{follower.lines} lines from the one-off service")

Why not only `service.logs(follow=True, stdout=True, stderr=True, timestamps=True)`: the SDK merges
stdout and stderr into one byte stream and drops which is which, and Odoo writes its errors to
stderr. `service_frames()` makes the same request and keeps the stream of every frame; any iterator
of bytes (e.g. the SDK call above) or of (stream, bytes) also works, which is how tests feed it.

A followed service's log never ends by itself (the stream stays open after the task exits), so the
follower reads in a thread and the caller stops it when it knows the task is done; `stop()` first
waits briefly for the last lines, which docker delivers a little after the exit.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from jobs.logs.text import MAX_LINE, clean_line
from jobs.models import Stream

log = logging.getLogger(__name__)

Frame = tuple[str, bytes]
Line = tuple[str, str, datetime | None]
Sink = Callable[[list[Line]], object]
STREAMS = {1: Stream.STDOUT, 2: Stream.STDERR}
# A line without its newline yet is held up to this size (docker splits long lines every 16 KB);
# a program that writes megabytes without a newline gets them as cut lines instead.
HOLD_MAX = 1_000_000
# How long the follower waits for more lines before handing a lone line on: a few milliseconds
# of delay buy batches of several lines (each Redis write costs the worker ~0.1 ms of CPU).
LINGER_SECONDS = 0.003


def service_frames(
    api: Any,
    target: str,
    *,
    task: bool = False,
    since: int = 0,
    tail: str = "all",
    tty: bool | None = None,
    follow: bool = True,
) -> tuple[Iterator[Frame], Callable[[], None]]:
    """Open `GET /services/<id>/logs?follow=1` (or /tasks/...) on a docker.APIClient.

    Returns the frames and a function that closes the connection (which ends the iterator).
    Uses the SDK's own request helpers, as its service_logs() does, keeping each frame's stream.
    """
    path = "/tasks/{0}/logs" if task else "/services/{0}/logs"
    params = {
        "follow": follow,
        "stdout": True,
        "stderr": True,
        "timestamps": True,
        "since": since,
        "tail": tail,
        "details": False,
    }
    if tty is None and not task:
        tty = bool(api.inspect_service(target)["Spec"]["TaskTemplate"]["ContainerSpec"].get("TTY", False))
    response = api._get(api._url(path, target), params=params, stream=True)
    api._raise_for_status(response)
    sock = api._get_raw_response_socket(response)
    api._disable_socket_timeout(sock)  # a follow is idle for long stretches

    def close() -> None:
        # Shut the socket down first: the reading thread is blocked in recv() holding the
        # response's buffer lock, so response.close() alone would wait for it forever.
        shutdown = getattr(getattr(sock, "_sock", None) or sock, "shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(OSError):
                shutdown(socket.SHUT_RDWR)
        response.close()

    return _frames(response.raw, bool(tty)), close


def _chunks(raw: Any) -> Iterator[bytes]:
    """The response body as it arrives, in as few reads as possible (each read costs Python time:
    reading docker's frames header by header made the follower slower than a busy log)."""
    if getattr(raw, "chunked", False) and hasattr(raw, "read_chunked"):
        yield from raw.read_chunked(decode_content=False)  # docker sends each message as it comes
        return
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    while chunk := read(65536):
        yield chunk


def _frames(raw: Any, tty: bool) -> Iterator[Frame]:
    """Docker's multiplexed stream: 8-byte header (stream, size), then the payload."""
    if tty:  # no framing: one stream, as it comes
        for chunk in _chunks(raw):
            yield Stream.STDOUT, chunk
        return
    buf = b""
    for chunk in _chunks(raw):
        buf = buf + chunk if buf else chunk
        pos, size = 0, len(buf)
        while size - pos >= 8:
            kind, length = struct.unpack_from(">BxxxL", buf, pos)
            if size - pos - 8 < length:
                break
            yield STREAMS.get(kind, Stream.STDOUT), buf[pos + 8 : pos + 8 + length]
            pos += 8 + length
        buf = buf[pos:]


def _timestamp(line: str) -> tuple[str, datetime | None]:
    """Split docker's RFC 3339 nano timestamp ("2024-05-01T10:00:00.123456789Z text") off a line."""
    head, sep, rest = line.partition(" ")
    if not sep or len(head) < 20 or head[4] != "-" or head[10] != "T":
        return line, None
    stamp = head.rstrip("Z")
    if "." in stamp:
        whole, frac = stamp.split(".", 1)
        stamp = f"{whole}.{frac[:6]}"
    try:
        return rest, datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    except ValueError:
        return line, None


class LineSplitter:
    """Bytes frames -> cleaned lines, per stream; partial lines wait for their end."""

    def __init__(self, timestamps: bool = True, limit: int = MAX_LINE) -> None:
        self.timestamps = timestamps
        self.limit = limit
        self._pending: dict[str, tuple[str, datetime | None]] = {}

    def feed(self, stream: str, data: bytes) -> list[Line]:
        out: list[Line] = []
        text = data.decode("utf-8", "replace")
        frame_at = None
        if self.timestamps:
            # Docker writes each message as one frame with its time in front, the continuation
            # frames of a long line included; a timestamp further in is the program's own text.
            text, frame_at = _timestamp(text)
        parts = text.split("\n")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last and part == "":
                break
            held, at = self._pending.pop(stream, ("", None))
            line, at = held + part, at or frame_at
            if last and len(line) <= HOLD_MAX:  # no newline yet: wait for the rest
                self._pending[stream] = (line, at)
                break
            out.append((clean_line(line, self.limit), stream, at))
        return out

    def flush(self) -> list[Line]:
        out = [(clean_line(text, self.limit), stream, at) for stream, (text, at) in self._pending.items()]
        self._pending.clear()
        return out


def pump(
    frames: Iterable[Frame | bytes],
    sink: Sink,
    *,
    timestamps: bool = True,
    splitter: LineSplitter | None = None,
    flush: bool = True,
) -> int:
    """Read frames until they end, sending lines to `sink` frame by frame; returns the line count.
    With flush=False a last line without its newline stays in the splitter."""
    splitter = splitter or LineSplitter(timestamps)
    count = 0
    for frame in frames:
        stream, data = (Stream.STDOUT, frame) if isinstance(frame, bytes | bytearray) else frame
        lines = splitter.feed(stream, bytes(data))
        if lines:
            sink(lines)
            count += len(lines)
    rest = splitter.flush() if flush else []
    if rest:
        sink(rest)
    return count + len(rest)


class Follower:
    """Pumps frames into a sink from a thread until stopped (or the frames end).

    `complete`, if given, reads the whole log once more (without follow) when stopping, and passes
    on whatever the follow had not delivered yet: docker sends a finished task's last lines when it
    gets to them (seconds later on a busy node), and a module update is judged by those lines.

    Two threads: one reads docker's stream, one hands lines to the sink. Lines that arrive while the
    sink is busy (a Redis round trip) go out together at its next call, one pipelined write for all
    of them: a quiet log is passed on line by line at once, a busy one in growing batches, so the
    follower keeps up with thousands of lines a second without adding delay to the quiet case.
    """

    def __init__(
        self,
        frames: Iterable[Frame | bytes],
        close: Callable[[], None],
        sink: Sink,
        *,
        timestamps: bool = True,
        max_batch: int = 2000,
        complete: Callable[[], Iterable[Frame | bytes]] | None = None,
    ) -> None:
        self.lines = 0
        self.per_stream: dict[str, int] = {}  # lines handed on, by stream: where `complete` resumes
        self.last_line_at = time.monotonic()
        self.error: BaseException | None = None
        self._close = close
        self._stopping = False
        self._sink = sink
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[list[Line] | None] = queue.SimpleQueue()
        self._complete = complete
        self._timestamps = timestamps
        splitter = LineSplitter(timestamps)

        def read() -> None:
            try:
                pump(frames, self._queue.put, splitter=splitter, flush=False)
                if not self._stopping:  # the log ended by itself: its last partial line is complete
                    rest = splitter.flush()
                    if rest:
                        self._queue.put(rest)
            except Exception as exc:  # a closed connection raises while stopping: expected
                if not self._stopping:
                    self.error = exc
                    log.warning("following logs failed: %s", exc)
            finally:
                self._queue.put(None)

        self._reader = threading.Thread(target=read, name="docker-logs-read", daemon=True)
        self._feeder = threading.Thread(target=self._feed, name="docker-logs-feed", daemon=True)

    def _feed(self) -> None:
        done = False
        while not done:
            first = self._queue.get()
            batch = [] if first is None else list(first)
            done = first is None
            if not done and self._queue.empty():
                time.sleep(LINGER_SECONDS)  # let a burst gather: one Redis write for many lines
            while not done and len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                else:
                    batch.extend(more)
            if batch:
                self._deliver(batch)

    def _deliver(self, batch: list[Line]) -> None:
        self.lines += len(batch)
        self.last_line_at = time.monotonic()
        for _, stream, _ in batch:
            self.per_stream[stream] = self.per_stream.get(stream, 0) + 1
        try:
            self._sink(batch)
        except Exception as exc:
            self.error = exc
            log.warning("storing followed log lines failed: %s", exc)

    def _catch_up(self, frames: Iterable[Frame | bytes]) -> None:
        """Pass on the lines of a complete read that the follow had not delivered (per stream)."""
        seen = dict(self.per_stream)
        pending: list[Line] = []

        def skip_seen(lines: list[Line]) -> None:
            for line in lines:
                if seen.get(line[1], 0) > 0:
                    seen[line[1]] -= 1
                else:
                    pending.append(line)
            if len(pending) >= self._max_batch:
                self._deliver(pending[:])
                pending.clear()

        pump(frames, skip_seen, timestamps=self._timestamps)
        if pending:
            self._deliver(pending)

    def start(self) -> Follower:
        self._feeder.start()
        self._reader.start()
        return self

    def stop(self, quiet: float = 0.5, limit: float = 10.0) -> None:
        """Wait until no line came for `quiet` seconds (at most `limit`), close, then catch up.

        The wait lets the last lines arrive live; `complete` makes sure none is missing even when
        docker lags by more than the wait (closing at once would cut the end of the log, which is
        where Odoo says what went wrong)."""
        deadline = time.monotonic() + limit
        while self._reader.is_alive() and time.monotonic() < deadline:
            if time.monotonic() - self.last_line_at >= quiet:
                break
            time.sleep(0.05)
        self._stopping = True
        try:
            self._close()
        except Exception:  # already closed
            log.debug("closing the log stream failed", exc_info=True)
        self._reader.join(timeout=5)
        self._feeder.join(timeout=30)  # every line read is handed on before stop() returns
        if self._complete is not None:
            try:
                self._catch_up(self._complete())
            except Exception as exc:
                self.error = exc
                log.warning("reading the complete log failed; it may miss its last lines: %s", exc)

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def follow_service(
    runner: Any, client: Any, service: str, *, task: bool = False, since: int = 0, tail: str = "all"
) -> Follower:
    """A Follower feeding a Swarm service's (or task's) logs into `runner`'s job log.

    `client` is a docker.DockerClient (or APIClient); use it as a context manager.
    """
    api = getattr(client, "api", client)
    frames, close = service_frames(api, service, task=task, since=since, tail=tail)

    def complete() -> Iterator[Frame]:
        return service_frames(api, service, task=task, since=since, tail=tail, follow=False)[0]

    return Follower(frames, close, runner.log_lines, complete=complete)
