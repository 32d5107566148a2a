"""Notifications: the cost of emit() on the caller's path, and delivery to 20 loopback webhooks.

In a database of its own (panel_bench_notify): 20 signed-webhook channels, each to its own HTTP
server on 127.0.0.1 (a thread each, answering 200). Then:
- 1,000 events (job.failed, each with its own subject: no dedup) emitted one after the other, as a
  caller would: each writes 20 deliveries and publishes ONE Celery message, to a queue of its own
  on the panel's Redis that no worker reads (removed at the end) -> events_per_s;
- job_overhead_ms: what a job's end pays for its notice (jobs.announce.job_ended on a failed job,
  20 subscribed channels), p95 over 200 jobs (p50 printed too: on a loaded machine the tail is the load);
- the 20,000 deliveries sent by 8 threads (a worker's concurrency), each one attempt as the task
  makes it (load, sign, POST, record) -> delivery_p95_ms, and every receiver checks the signature.

    python bench/notify.py [--events N] [--write]

The last line is `RESULT notify events_per_s=<N> delivery_p95_ms=<ms> job_overhead_ms=<ms>`.
Exits 1 without it when it cannot measure (no PostgreSQL or Redis, a delivery not sent).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import fresh_database
from bench._report import (
    add_write_flag,
    argument_parser,
    percentile,
    printed_section,
    say,
    transcript,
    write_section,
)
from bench._run import CannotMeasure, run

CHANNELS = 20
THREADS = 8
SECRET = "bench-secret"


class Counter:
    def __init__(self) -> None:
        self.ok = 0
        self.bad = 0
        self.lock = threading.Lock()


def receivers(counter: Counter) -> list[ThreadingHTTPServer]:
    from panel.notify.signing import verify

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            good = verify(SECRET, body, self.headers["X-Panel-Timestamp"], self.headers["X-Panel-Signature"])
            with counter.lock:
                counter.ok, counter.bad = counter.ok + good, counter.bad + (not good)
            self.send_response(200 if good else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(CHANNELS)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def private_queue() -> tuple[str, Any]:
    """Publish emit()'s messages to a queue no worker reads; return its name and a cleanup."""
    import redis
    from django.conf import settings

    from panel.celery import app
    from panel.notify import events, tasks

    queue = f"bench-notify-{os.getpid()}"
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise CannotMeasure(f"Redis at {settings.CELERY_BROKER_URL}: {exc}") from exc
    events.enqueue = lambda ids: tasks.fan_out.apply_async(args=[ids], queue=queue)  # type: ignore[assignment]
    return queue, lambda: redis.Redis.from_url(app.conf.broker_url).delete(queue)


def emit_events(count: int) -> tuple[float, list[int]]:
    from panel import notify
    from panel.notify.models import Delivery

    started = time.perf_counter()
    for n in range(count):
        notify.emit("job.failed", payload={"job_id": n, "kind": "bench", "error": "bench"}, subject=n)
    seconds = time.perf_counter() - started
    ids = list(Delivery.objects.filter(status="queued").values_list("pk", flat=True))
    if len(ids) != count * CHANNELS:
        raise CannotMeasure(f"{len(ids)} deliveries written for {count} events x {CHANNELS} channels")
    return count / seconds, ids


def job_overhead(jobs: int = 200) -> tuple[float, float]:
    from jobs.announce import job_ended
    from jobs.models import Job

    made = Job.objects.bulk_create([Job(kind="backup", mutating=False, state="failed") for _ in range(jobs)])
    times = []
    for job in made:
        started = time.perf_counter()
        job_ended(job, "failed", "bench failure")
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


def deliver_all(ids: list[int]) -> list[float]:
    from django.db import connection

    from panel.notify.tasks import attempt

    def one(pk: int) -> float:
        started = time.perf_counter()
        if attempt(pk) != "sent":
            raise CannotMeasure(f"delivery {pk} was not sent")
        return (time.perf_counter() - started) * 1000

    def batch(chunk: list[int]) -> list[float]:
        try:
            return [one(pk) for pk in chunk]
        finally:
            connection.close()

    chunks = [ids[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        return [ms for part in pool.map(batch, chunks) for ms in part]


def main() -> str:
    parser = argument_parser(__doc__)
    parser.add_argument("--events", type=int, default=1000)
    add_write_flag(parser)
    args = parser.parse_args()
    kept = transcript()
    fresh_database("panel_bench_notify")
    from panel.notify.models import Channel

    counter = Counter()
    servers = receivers(counter)
    for n, server in enumerate(servers):
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        Channel.objects.create(name=f"hook{n}", kind="webhook", url=url, secret=SECRET)
    queue, cleanup = private_queue()
    try:
        rate, ids = emit_events(args.events)
        overhead_p50, overhead = job_overhead()
    finally:
        cleanup()
    say(f"emit: {args.events} events x {CHANNELS} channels: {rate:.0f} events/s ({1000 / rate:.2f} ms each)")
    say(
        f"job_ended (failed backup: job.failed + backup.failed, {CHANNELS} channels): "
        f"p50 {overhead_p50:.2f} ms, p95 {overhead:.2f} ms"
    )
    started = time.perf_counter()
    times = deliver_all(ids)
    seconds = time.perf_counter() - started
    if counter.ok != len(ids) or counter.bad:
        raise CannotMeasure(f"receivers verified {counter.ok} of {len(ids)} ({counter.bad} bad signatures)")
    p50, p95 = percentile(times, 50), percentile(times, 95)
    say(f"delivery: {len(ids)} sent by {THREADS} threads in {seconds:.1f} s ({len(ids) / seconds:.0f}/s),")
    say(f"  one attempt p50 {p50:.1f} ms, p95 {p95:.1f} ms; every signature verified by its receiver")
    for server in servers:
        server.shutdown()
    result = f"RESULT notify events_per_s={rate:.0f} delivery_p95_ms={p95:.1f} job_overhead_ms={overhead:.2f}"
    if args.write:
        write_section("notify", printed_section("notify", kept, result))
    return result


if __name__ == "__main__":
    run(main)
