"""The browsers of the log_stream benchmark: processes of asyncio clients, each reading a job's live
log as server-sent events, counting every line and timing every tenth."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import time
from typing import Any

from bench.log_stream_lines import SAMPLE

SEQ_ATTR = b'data-seq="'


def _seq_at(blob: bytes, pos: int) -> int:
    start = pos + len(SEQ_ATTR)
    return int(blob[start : blob.index(b'"', start)])


class Tally:
    """Every line counted (order, holes, repeats), every tenth timed: a measuring tool must cost less
    than what it measures, and fifty viewers parsing every line in Python would not."""

    def __init__(self) -> None:
        self.expected, self.received, self.dup, self.holes = 1, 0, 0, 0
        self.printed = 0  # lines of the printing service received (the job's own lines are not counted)
        self.lat: list[float] = []
        self.first = self.last = 0.0

    def add(self, blob: bytes, now: float) -> None:
        count = blob.count(SEQ_ATTR)
        if not count:
            return
        printed = blob.count(b"</time>seq=")
        if printed:  # rates count from the first printed line, not from the job's "Started ..."
            self.printed += printed
            self.first = self.first or now
            self.last = now
        first, last = _seq_at(blob, blob.find(SEQ_ATTR)), _seq_at(blob, blob.rfind(SEQ_ATTR))
        if first == self.expected and last == first + count - 1:
            self.expected, self.received = last + 1, self.received + count
        else:  # a hole or a repeat: look at every line
            for seq in (int(x) for x in re.findall(rb'data-seq="(\d+)"', blob)):
                if seq < self.expected:
                    self.dup += 1
                    continue
                self.holes += seq - self.expected
                self.expected, self.received = seq + 1, self.received + 1
        self.lat.extend((now - float(at)) * 1000 for _, at in SAMPLE.findall(blob))


class Viewer(asyncio.Protocol):
    """One browser: a plain HTTP/1.1 client reading the chunked event stream. A protocol rather than
    streams, and the chunked framing parsed here: the 50 viewers run on the machine they measure, and
    every microsecond they spend is taken from the pipeline under test."""

    def __init__(self, request: bytes, started: asyncio.Semaphore, done: asyncio.Future) -> None:
        self.request, self.started, self.done = request, started, done
        self.tally = Tally()
        self.raw = b""  # received, not yet unframed
        self.body = b""  # unframed, not yet a whole event
        self.head = True

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        raw = self.raw + data if self.raw else data
        if self.head:
            if b"\r\n\r\n" not in raw:
                self.raw = raw
                return
            head, _, raw = raw.partition(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0] or b"chunked" not in head.lower():
                self._finish(RuntimeError(f"viewer got {head[:300]!r}"))
                return
            self.head = False
            self.started.release()
        pos, parts = 0, [self.body]
        while True:  # chunks: size line, data, CRLF
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(raw[pos:eol].split(b";")[0], 16)
            if size == 0:
                self.raw = b""
                self._finish(None)
                return
            if len(raw) < eol + 2 + size + 2:
                break
            parts.append(raw[eol + 2 : eol + 2 + size])
            pos = eol + 2 + size + 2
        self.raw = raw[pos:]
        events, _, self.body = b"".join(parts).rpartition(b"\n\n")
        if events:
            self.tally.add(events, now)
            if b"event: end" in events:
                self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)
        self.transport.close()


async def _view(host: str, port: int, path: str, cookie: str, started: asyncio.Semaphore) -> dict:
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: sessionid={cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    viewer = Viewer(request, started, done)
    await loop.create_connection(lambda: viewer, host, port)
    await done
    tally = viewer.tally
    return {
        "lat": tally.lat,
        "count": tally.printed,
        "holes": tally.holes,
        "dup": tally.dup,
        "first": tally.first,
        "last": tally.last,
    }


async def _viewers(url: str, cookie: dict, count: int, ready: Any) -> tuple[list[dict], float]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    started = asyncio.Semaphore(0)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tasks = [asyncio.create_task(_view(host, port, path, cookie["sessionid"], started)) for _ in range(count)]
    for _ in range(count):
        await started.acquire()
    ready.put(count)
    cpu = time.process_time()
    got = list(await asyncio.gather(*tasks))
    return got, time.process_time() - cpu


def viewer_process(url: str, cookie: dict, count: int, ready: Any, results: Any) -> None:
    try:
        import uvloop  # what uvicorn runs on too; plain asyncio costs the machine more per event

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    results.put(run(_viewers(url, cookie, count, ready)))


def start_viewers(url: str, cookie: dict, total: int) -> tuple[list, Any]:
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    per = max(1, min(10, total))
    counts = [per] * (total // per) + ([total % per] if total % per else [])
    procs = [ctx.Process(target=viewer_process, args=(url, cookie, n, ready, results)) for n in counts]
    for p in procs:
        p.start()
    connected = sum(ready.get(timeout=60) for _ in procs)
    assert connected == total, f"{connected} of {total} viewers connected"
    return procs, (results, len(procs))


def collect_viewers(procs: list, handle: Any, timeout: float) -> tuple[list[dict], float]:
    """The viewers' results, and the CPU seconds their processes used while reading."""
    results, n = handle
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    cpu = 0.0
    for _ in range(n):
        got, used = results.get(timeout=max(1, deadline - time.monotonic()))
        out.extend(got)
        cpu += used
    for p in procs:
        p.join(10)
    return out, cpu
