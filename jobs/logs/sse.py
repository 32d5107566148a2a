"""Live logs as server-sent events: an async view, and one Redis reader per job per process.

Why a shared reader: fifty people watching a busy deploy would otherwise mean fifty XREAD loops
parsing and escaping the same 5,000 lines a second. Here one `Tail` task per job reads the stream
(XREAD BLOCK on redis.asyncio), renders each line to HTML once, and hands the batch to every viewer's
queue. A viewer that falls behind (full queue) or joins late sees a hole in the seqs and fills it
from the stream or the database, so nobody needs a perfect queue.

Each event carries `id: <last seq>`; a browser that reconnects sends it back as Last-Event-ID and
resumes after it. When the job has finished, the rest comes from the database and an `end` event
(htmx: sse-close="end") closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, Union

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils.html import escape
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from jobs.logs import read as logread
from jobs.logs.html import line_html
from jobs.logs.store import lines_from_entry, stream_key, stream_url
from jobs.models import Job, State
from panel.roles import requires

IDLE_CHECK = 3.0  # seconds without a line before asking the database (Redis down, job ended)
KEEPALIVE = 15.0
QUEUE_BATCHES = 1000
BLOCK_MS = 1000
# The pause between two batches sent to viewers of a busy log: at least 10 ms (a browser should not
# swap the DOM more than 100 times a second), longer with more viewers, since every event costs the
# web process ~0.1 ms per viewer, mostly in the kernel: fifty get batches every 10 ms (5,000 sends a
# second, a quarter of a core). Measured by bench/log_stream.py at 50 viewers: 20 ms instead gave a
# p95 10 ms higher for a fifth less CPU, and the delay is what a watching operator notices.
COALESCE_PER_VIEWER = 0.0002
COALESCE_MIN, COALESCE_MAX = 0.01, 0.05


class Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


END = Signal("end")  # the stream's end marker arrived
# Sent by a tail every second it reads nothing (and when it stops): viewers wait on their queue
# alone, with no timer per message, and still wake up to check the database now and then.
TICK = Signal("tick")
Item = Union["Batch", Signal]

Rendered = list[tuple[int, str]]  # (seq, html)


class Batch:
    """Lines read together from the stream, rendered and encoded once for every viewer."""

    __slots__ = ("event", "first", "last", "lines")

    def __init__(self, lines: Rendered) -> None:
        self.lines = lines
        self.first, self.last = lines[0][0], lines[-1][0]
        self.event = _event(lines)


def _closing(fn: Callable[..., Any]) -> Callable[..., Any]:
    # A viewer may stay for hours; it must not pin a database connection that long.
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            connection.close()

    return call


async def db(fn: Callable[..., Any], *args: Any) -> Any:
    return await sync_to_async(_closing(fn))(*args)


def _async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), 1)  # as jobs.logs.store.quick_retry: fail fast, the loop retries


class Tail:
    """Reads one job's stream for every viewer of it in this process."""

    def __init__(self, hub: Hub, job_id: int, cursor: int) -> None:
        self.hub, self.job_id, self.cursor = hub, job_id, cursor
        self.queues: set[asyncio.Queue[Item]] = set()
        self.task = asyncio.get_running_loop().create_task(self._run())
        self.task.add_done_callback(lambda _: self._broadcast(TICK))  # viewers notice it stopped

    async def _run(self) -> None:
        client = aioredis.Redis.from_url(stream_url(), socket_connect_timeout=1, retry=_async_retry())
        key = stream_key(self.job_id)
        try:
            while self.queues:
                try:
                    reply = await client.xread(
                        {key: f"0-{self.cursor}"}, count=logread.ENTRIES, block=BLOCK_MS
                    )
                except (RedisError, OSError):
                    self._broadcast(TICK)
                    await asyncio.sleep(0.5)  # Redis restarting: viewers meanwhile read the database
                    continue
                if not reply:
                    self._broadcast(TICK)
                    continue
                batch: Rendered = []
                ended = False
                for entry_id, fields in reply[0][1]:
                    lines = lines_from_entry(entry_id, fields)
                    if lines is None:
                        ended = True
                        break
                    batch.extend((x.seq, line_html(x)) for x in lines if x.seq > self.cursor)
                    self.cursor = max(self.cursor, lines[-1].seq)
                if batch:
                    self._broadcast(Batch(batch))
                if ended:
                    self._broadcast(END)
                    break
                if batch:
                    # A quiet log's line is sent at once; a busy one goes out in batches, so that a
                    # deploy printing 5,000 lines a second does not become 5,000 events a second for
                    # every viewer (nor 5,000 DOM swaps in each browser).
                    pause = len(self.queues) * COALESCE_PER_VIEWER
                    await asyncio.sleep(min(COALESCE_MAX, max(COALESCE_MIN, pause)))
        finally:
            if self.hub.tails.get(self.job_id) is self:
                del self.hub.tails[self.job_id]
            await client.aclose()  # type: ignore[attr-defined]  # redis>=5; the stubs are older

    def _broadcast(self, item: Item) -> None:
        for queue in self.queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(item)  # a slow viewer misses it and fills the hole later


class Hub:
    def __init__(self) -> None:
        self.tails: dict[int, Tail] = {}

    def subscribe(self, job_id: int, cursor: int) -> tuple[Tail, asyncio.Queue[Item]]:
        tail = self.tails.get(job_id)
        if tail is None or tail.task.done():
            tail = self.tails[job_id] = Tail(self, job_id, cursor)
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_BATCHES)
        tail.queues.add(queue)
        return tail, queue


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]


def _event(lines: Rendered) -> bytes:
    html = "".join(h for _, h in lines).replace("\n", "&#10;").replace("\r", "&#13;")
    return f"id: {lines[-1][0]}\nevent: line\ndata: {html}\n\n".encode()


def _stored(lines: list[Any]) -> Rendered:
    return [(x.seq, line_html(x)) for x in lines]


async def _gap(job_id: int, after: int, upto: int) -> Rendered:
    """Lines after < seq < upto: from the stream if it still has them, else from the database."""
    found: Rendered = []
    client = aioredis.Redis.from_url(
        stream_url(), socket_connect_timeout=1, socket_timeout=2, retry=_async_retry()
    )
    try:
        # The entry holding seq upto-1 may end later than it: read up to the one with `upto`.
        entries = await client.xrange(stream_key(job_id), min=f"0-{after + 1}", max=f"0-{upto}")
        found = [
            (x.seq, line_html(x))
            for i, f in entries
            for x in lines_from_entry(i, f) or []
            if after < x.seq < upto
        ]
    except (RedisError, OSError):
        pass
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # redis>=5; the stubs are older
    if len(found) < upto - after - 1:
        stored = _stored(await db(logread.fill_gap, job_id, after, upto))
        have = {seq for seq, _ in found}
        found = sorted(found + [x for x in stored if x[0] not in have])
    return found


async def _end_event(job_id: int) -> bytes:
    state = await db(lambda: Job.objects.values_list("state", flat=True).get(pk=job_id))
    label = escape(State(state).label)
    return f'event: end\ndata: <span class="badge s-{escape(state)}">{label}</span>\n\n'.encode()


async def event_stream(job_id: int, after: int) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"

    async def drain() -> AsyncIterator[bytes]:
        """Stored lines after the cursor, as events, moving the cursor."""
        nonlocal after
        while lines := await db(logread.stored_after, job_id, after):
            after = lines[-1].seq
            yield _event(_stored(lines))

    async for chunk in drain():  # what is stored already
        yield chunk
    if await db(logread.is_finished, job_id):
        async for chunk in drain():
            yield chunk
        yield await _end_event(job_id)
        return
    tail, queue = hub().subscribe(job_id, after)
    loop = asyncio.get_running_loop()
    checked = sent = loop.time()
    try:
        while True:
            items: list[Item] = [await queue.get()]
            while not queue.empty() and END not in items:  # everything waiting goes out at once
                items.append(queue.get_nowait())
            batches = [b for b in items if isinstance(b, Batch)]
            now = loop.time()
            idle = not batches and now - checked >= IDLE_CHECK
            if idle:
                checked = now
            if END in items or (idle and await db(logread.is_finished, job_id)):
                async for chunk in drain():
                    yield chunk
                yield await _end_event(job_id)
                return
            if _follows(after, batches):  # the usual case: send what the tail encoded once for all
                after, sent = batches[-1].last, now
                yield b"".join(b.event for b in batches)
                continue
            fresh = [x for b in batches for x in b.lines if x[0] > after]
            if idle:
                fresh = _stored(await db(logread.stored_after, job_id, after))  # stream quiet or down
            if tail.task.done():  # its reader stopped (it crashed): read on with a new one
                tail.queues.discard(queue)
                tail, queue = hub().subscribe(job_id, max(after, fresh[-1][0] if fresh else 0))
            if fresh and fresh[0][0] > after + 1:
                fresh = await _gap(job_id, after, fresh[0][0]) + fresh  # joined late, lagged, Redis lost it
            if fresh:
                after, sent = fresh[-1][0], now
                yield _event(fresh)
            elif now - sent >= KEEPALIVE:
                sent = now
                yield b": keepalive\n\n"
    finally:
        tail.queues.discard(queue)


def _follows(after: int, batches: list[Batch]) -> bool:
    """Whether the batches continue the cursor without a hole or an overlap."""
    expected = after + 1
    for batch in batches:
        if batch.first != expected:
            return False
        expected = batch.last + 1
    return bool(batches)


def cursor(request: HttpRequest) -> int:
    """The last seq the viewer has: Last-Event-ID on reconnect, or ?after= on the first connect;
    logread.BadCursor when either is not a seq."""
    values = [
        logread.cursor_param(request.headers.get("Last-Event-ID"), "Last-Event-ID"),
        logread.cursor_param(request.GET.get("after"), "after"),
    ]
    return max([v for v in values if v is not None] or [0])


@requires("view")
async def job_events(request: HttpRequest, job_id: int) -> HttpResponseBase:
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        after = cursor(request)
    except logread.BadCursor as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    if not await Job.objects.filter(pk=job_id).aexists():
        raise Http404("no such job")
    response = StreamingHttpResponse(event_stream(job_id, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
