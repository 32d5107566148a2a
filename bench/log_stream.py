"""Benchmark: a Swarm service's log, from its print() to 50 browsers watching the job live.

    python bench/log_stream.py [--lines 20000] [--rate 1000] [--burst 50000] [--viewers 50] [--write]

A lab service prints numbered lines, each with the time it was printed ("seq=N t=<unix time>"). In the
same run, the lines are read two ways:
  (a) `docker service logs --follow --raw` read directly (the peer: what an admin would tail), and
  (b) the panel: a job on a real Celery worker follows the service with jobs.logs.follow (docker API),
      writes every line with runner.log (Redis Stream + batched database), and uvicorn serves it as
      server-sent events (jobs/logs/sse.py) to `--viewers` concurrent browsers (httpx, several processes).
Phase 1, paced (`--rate` lines/s): delay print -> arrival, p50/p95/p99, for (a) and for every line at
every viewer of (b). Phase 2, burst (`--burst` lines as fast as the service prints): lines per second
through the panel to the slowest viewer. Lost = lines some viewer never got (plus lines missing from
the stored log). Targets (issue 4): p95 <= 1.2 x direct + 50 ms, >= 5,000 lines/s, 50 viewers, 0 lost.

It brings up what it needs: the lab (lab.up), a database `panel_bench_log_stream`
(PostgreSQL, migrated; override with PANEL_BENCH_DATABASE_URL), a private redis-server, uvicorn and
a worker on loopback ports, both started with the interpreter that runs the bench (`sys.executable
-m uvicorn`, `-m celery`). The last line is the RESULT line; exit 0 whether or not a target is met.
Without a part it measures (the lab and its docker CLI for the service and the direct peer,
redis-server, uvicorn or celery for this interpreter, PostgreSQL), or when no viewer got a timed
line, it exits 1 without a RESULT line. bench/RESULTS.md is only written with --write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._django import (  # noqa: E402
    CannotMeasure,
    add_write_flag,
    command_line,
    load,
    python_module,
    require_program,
    run,
    write_section,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/panel_bench_log_stream"
LINE = re.compile(rb"seq=(\d+) t=(\d+\.\d+)")
PRINTER = r"""
import os, sys, time
k, rate, start = int(os.environ["K"]), float(os.environ["RATE"]), float(os.environ["START_AT"])
time.sleep(max(0.0, start - time.time()))
t0 = time.time()
write, flush = sys.stdout.write, sys.stdout.flush
for n in range(1, k + 1):
    if rate > 0:
        wait = t0 + (n - 1) / rate - time.time()
        if wait > 0:
            time.sleep(wait)
    write(f"seq={n} t={time.time():.6f}\n")
    flush()  # one line, one log message, as a program printing line by line
"""
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned"}


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- runners: imported by the worker (--include log_stream) and registered by main() --------------


def register_runners() -> None:
    import docker

    from jobs.logs.follow import follow_service
    from jobs.runner import JobRunner, register

    class BenchFollowService(JobRunner):
        """Follows a lab service until its task ends: what a module update does with its one-off."""

        kind = "bench.follow_service"
        mutating = False

        def run(self) -> dict:
            client = docker.DockerClient(base_url=self.params["socket"], version="auto")
            service = client.services.get(self.params["service"])
            with follow_service(self, client, service.id) as follower:
                while not any(t["Status"]["State"] in ENDED for t in service.tasks()):
                    time.sleep(0.5)
            client.close()
            return {"lines": follower.lines}

    register(BenchFollowService)


if __name__ != "__main__" and os.environ.get("PANEL_BENCH_WORKER") == "1":
    register_runners()


# --- viewers: processes of asyncio httpx clients ---------------------------------------------------


SAMPLE = re.compile(rb"seq=(\d*0) t=(\d+\.\d+)")  # every tenth line is timed
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


# --- the direct peer -------------------------------------------------------------------------------


class DirectFollow:
    """`docker service logs --follow --raw` in a subprocess, timing each line as it arrives."""

    def __init__(self, service: str, expected: int) -> None:
        self.expected = expected
        self.lat: list[float] = []
        self.seen: set[int] = set()
        self.first = self.last = 0.0
        self.proc = subprocess.Popen(
            ["docker", "service", "logs", "--follow", "--raw", service],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.time()
            found = LINE.search(raw)
            if not found:
                continue
            n = int(found.group(1))
            if n not in self.seen:
                self.seen.add(n)
                self.lat.append((now - float(found.group(2))) * 1000)
                self.first = self.first or now
                self.last = now
            if len(self.seen) >= self.expected:
                break

    def wait(self, timeout: float) -> None:
        self.thread.join(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)


class RedisTap:
    """Reads the job's Redis Stream directly: splits the panel's delay into worker side and web side."""

    def __init__(self, url: str, job_id: int, expected: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key, self.expected = f"job:{job_id}:log", expected
        self.lat: list[float] = []
        self.lines, self.first, self.last = 0, 0.0, 0.0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        cursor, deadline = "0-0", time.monotonic() + 600
        while self.lines < self.expected and time.monotonic() < deadline:
            reply = self.client.xread({self.key: cursor}, count=1000, block=1000)
            now = time.time()
            for entry_id, fields in reply[0][1] if reply else []:
                cursor = entry_id
                data = fields.get(b"d", b"")
                printed = data.count(b" seq=")
                if printed:  # the job's own lines ("Started ...") come seconds before the first print
                    self.lines += printed
                    self.first, self.last = self.first or now, now
                for _, printed in SAMPLE.findall(data):
                    self.lat.append((now - float(printed)) * 1000)
            if reply and any(b"end" in f for _, f in reply[0][1]):
                break


# --- services the bench brings up ------------------------------------------------------------------


class Stack:
    """Private redis-server, uvicorn and a Celery worker on loopback, against the bench database."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.redis_port, self.web_port = free_port(), free_port()
        self.procs: list[subprocess.Popen] = []
        self.logdir = Path(os.environ.get("PANEL_VAR_DIR", ROOT / "var")) / "bench-log-stream"
        self.logdir.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PANEL_DATABASE_URL": self.db_url,
            "PANEL_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/2",
            "PANEL_JOB_LOG_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PANEL_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "PANEL_RESULT_BACKEND": f"redis://127.0.0.1:{self.redis_port}/1",
            "PANEL_DB_CONN_MAX_AGE": "0",
            "PANEL_BENCH_WORKER": "1",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the process
        self.procs.append(
            subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def start(self) -> None:
        redis_server = require_program("redis-server")
        uvicorn = python_module("uvicorn")
        celery = python_module("celery")
        self._spawn(
            "redis",
            [
                redis_server,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        self._spawn(
            "web",
            [
                *uvicorn,
                "panel.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        )
        self._spawn(
            "worker",
            [
                *celery,
                "-A",
                "panel",
                "worker",
                "-P",
                "prefork",
                "-c",
                "1",
                "--include",
                "log_stream",
                "-n",
                f"bench-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise CannotMeasure("uvicorn did not start; see " + str(self.logdir))

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the web server and the worker (with its pool), from /proc:
        a figure that does not depend on how busy the machine is, unlike the delays."""
        out: dict[str, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for name, proc in zip(("redis", "web", "worker"), self.procs, strict=False):
            total = 0.0
            for pid in _tree(proc.pid):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / tick
            out[name] = total
        return out

    def stop(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _tree(pid: int) -> list[int]:
    """A process and its descendants (the prefork worker's pool processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{current}/task/{current}/children").read_text().split():
                todo.append(int(child))
    return found


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["PANEL_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def session_cookie() -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from panel.roles import assign_role, ensure_role_groups

    ensure_role_groups()
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    assign_role(user, "viewer")
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def get_lab() -> Any:
    """The lab: the service prints on one of its workers, and the direct peer reads it."""
    require_program("docker")  # the direct peer is `docker service logs --follow`
    try:
        from lab import up

        return up()
    except Exception as exc:  # no docker engine, not root, lab broken: nothing to compare against
        raise CannotMeasure(f"the local Swarm lab is not available: {type(exc).__name__}: {exc}") from exc


# --- one phase -------------------------------------------------------------------------------------


def run_phase(stack: Stack, lab: Any, cookie: dict, *, lines: int, rate: float, viewers: int) -> dict:
    from docker.types import RestartPolicy

    from jobs.control import start
    from jobs.models import Job, JobLogLine

    start_at = time.time() + 10
    env = {"K": str(lines), "RATE": str(rate), "START_AT": f"{start_at:.3f}"}
    name = f"bench-logs-{uuid.uuid4().hex[:8]}"
    client = lab.client()
    service = client.services.create(
        lab.image("odoo").pinned,
        command=["python3", "-c", PRINTER],
        env=[f"{k}={v}" for k, v in env.items()],
        name=name,
        restart_policy=RestartPolicy(condition="none"),
        constraints=["node.role == worker"],  # logs cross from a worker to the manager, as in production
        labels={"oplab.bench": "log_stream"},
    )
    try:
        job = start("bench.follow_service", params={"socket": lab.manager_socket, "service": name})
        direct = DirectFollow(name, lines)
        tap = RedisTap(stack.env["PANEL_JOB_LOG_REDIS_URL"], job.pk, lines)
        url = f"http://127.0.0.1:{stack.web_port}/jobs/{job.pk}/events?after=0"
        procs, handle = start_viewers(url, cookie, viewers)
        cpu_before = stack.cpu()
        if time.time() > start_at:
            say("warning: the viewers connected after printing began; early delays include the connect time")
        duration = lines / rate if rate > 0 else lines / 5000
        timeout = max(120, start_at - time.time() + duration * 6)
        got, viewers_cpu = collect_viewers(procs, handle, timeout=timeout)
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu().items()}
        cpu["viewers"] = viewers_cpu
        direct.wait(30)
    finally:
        with contextlib.suppress(Exception):
            service.remove()
        client.close()
    job.refresh_from_db()
    stored = JobLogLine.objects.filter(job=job, text__startswith="seq=").count()
    tap.thread.join(10)
    return {
        "cpu": cpu,
        "tap": tap.lat,
        "tap_rate": tap.lines / (tap.last - tap.first) if tap.last > tap.first else 0.0,
        "job": job,
        "state": Job.objects.get(pk=job.pk).state,
        "viewers": got,
        "direct": direct,
        "stored": stored,
    }


def summarize(phase: dict, lines: int) -> dict:
    lat = [x for v in phase["viewers"] for x in v["lat"]]
    # Lines some viewer never got, or that the stored log lacks; a repeat is counted apart.
    lost = sum(max(0, lines - v["count"]) for v in phase["viewers"]) + (lines - phase["stored"])
    lost += sum(v["holes"] for v in phase["viewers"])
    rates = [v["count"] / (v["last"] - v["first"]) for v in phase["viewers"] if v["last"] > v["first"]]
    direct = phase["direct"]
    return {
        "redis_p50": pct(phase["tap"], 50),
        "redis_p95": pct(phase["tap"], 95),
        "redis_rate": phase["tap_rate"],
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "direct_p50": pct(direct.lat, 50),
        "direct_p95": pct(direct.lat, 95),
        "direct_p99": pct(direct.lat, 99),
        "direct_count": len(direct.seen),
        "direct_rate": (len(direct.seen) / (direct.last - direct.first)) if direct.last > direct.first else 0,
        "min_rate": min(rates) if rates else 0.0,
        "median_rate": statistics.median(rates) if rates else 0.0,
        "cpu": phase["cpu"],
        "lost": lost,
        "dup": sum(v["dup"] for v in phase["viewers"]),
        "stored": phase["stored"],
        "viewers": len(phase["viewers"]),
        "state": phase["state"],
    }


def fmt(x: float) -> str:
    return "NA" if x != x else f"{x:.1f}"  # NaN -> NA


def cpu_line(phase: dict, lines: int) -> str:
    cpu = phase["cpu"]
    per = 1000 / max(1, lines)
    return (
        f"CPU per 1,000 lines: worker {cpu.get('worker', 0) * per * 1000:.0f} ms, "
        f"web (all viewers) {cpu.get('web', 0) * per * 1000:.0f} ms, "
        f"redis {cpu.get('redis', 0) * per * 1000:.0f} ms; "
        f"the bench's own {phase['viewers']} viewers {cpu.get('viewers', 0) * per * 1000:.0f} ms"
    )


def report(args: argparse.Namespace, paced: dict, burst: dict | None) -> str:
    """Print the figures; return the RESULT line."""
    say(
        f"  panel SSE  p50 {fmt(paced['p50'])} ms  p95 {fmt(paced['p95'])} ms  p99 {fmt(paced['p99'])} ms"
        f"  ({paced['viewers']} viewers, lost {paced['lost']}, duplicates {paced['dup']})"
    )
    say(
        f"  into Redis p50 {fmt(paced['redis_p50'])} ms  p95 {fmt(paced['redis_p95'])} ms"
        "  (the worker's part)"
    )
    say(
        f"  direct     p50 {fmt(paced['direct_p50'])} ms  p95 {fmt(paced['direct_p95'])} ms"
        f"  p99 {fmt(paced['direct_p99'])} ms  ({paced['direct_count']} lines)"
    )
    say(f"  {cpu_line(paced, args.lines)}")
    if burst:
        say(
            f"  burst: panel SSE {burst['min_rate']:.0f} lines/s to the slowest viewer "
            f"(median {burst['median_rate']:.0f}; into Redis {burst['redis_rate']:.0f}), "
            f"lost {burst['lost']}, duplicates {burst['dup']}; "
            f"direct {burst['direct_rate']:.0f} lines/s"
        )
        say(f"  {cpu_line(burst, args.burst)}")
    lost = paced["lost"] + (burst["lost"] if burst else 0)
    rate = burst["min_rate"] if burst else 0.0
    return (
        f"RESULT log_stream p95_ms={fmt(paced['p95'])} direct_p95_ms={fmt(paced['direct_p95'])} "
        f"lines_per_s={rate:.0f} viewers={paced['viewers']} lost={lost}"
    )


def results_section(
    command: str, args: argparse.Namespace, paced: dict, burst: dict | None, result: str
) -> str:
    lost = paced["lost"] + (burst["lost"] if burst else 0)
    rate = burst["min_rate"] if burst else 0.0
    target = paced["direct_p95"] * 1.2 + 50
    load_1m = os.getloadavg()[0]
    where = "lab service on a worker node"
    rows = [
        "| | p50 ms | p95 ms | p99 ms | lines/s (burst) | lost |",
        "|---|---|---|---|---|---|",
        f"| `docker service logs --follow` (direct) | {fmt(paced['direct_p50'])} "
        f"| {fmt(paced['direct_p95'])} "
        f"| {fmt(paced['direct_p99'])} | {burst['direct_rate'] if burst else 0:.0f} "
        f"| {args.lines - paced['direct_count']} |",
        f"| panel: into Redis (worker side) | {fmt(paced['redis_p50'])} | {fmt(paced['redis_p95'])} | | | |",
        f"| panel: SSE, {paced['viewers']} viewers (every 10th line timed, all counted) "
        f"| {fmt(paced['p50'])} | {fmt(paced['p95'])} "
        f"| {fmt(paced['p99'])} | {rate:.0f} (slowest viewer) | {lost} |",
    ]
    verdicts = (
        f"p95 <= 1.2 x direct + 50 ms = {fmt(target)} ms: {'met' if paced['p95'] <= target else 'NOT met'}; "
        f">= 5,000 lines/s: {'met' if rate >= 5000 else 'NOT met'}; 50 viewers: "
        f"{'met' if paced['viewers'] >= 50 else 'NOT met'}; "
        f"nothing lost: {'met' if lost == 0 else 'NOT met'}."
    )
    return (
        "## log_stream\n\n"
        f"`{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
        f"{load_1m:.1f} at the end; {where}; one uvicorn process, one prefork worker (-c 1), PostgreSQL, "
        "a private redis-server.\n\n"
        + "\n".join(rows)
        + f"\n\nPaced phase: {args.lines} lines at {args.rate:.0f}/s, {len(paced['runs'])} runs; the median "
        "run is shown (panel p95 / direct p95 of each: "
        + ", ".join(f"{fmt(a)} / {fmt(b)}" for a, b in paced["runs"])
        + f"; lost counts all runs). "
        f"Burst phase: {args.burst} lines, unpaced. "
        f"{cpu_line(paced, args.lines)} (paced).\n\nTargets: {verdicts}\n\n    {result}\n"
    )


def main() -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=20000, help="lines in the paced phase")
    # 1,000 lines/s is a very busy log (an Odoo -u prints a few hundred a second at most). On a
    # 2-core machine, 2,000 lines/s make the two engines (worker and manager) alone use 1.2 cores to
    # ship the log through Swarm, and the delays then measure CPU starvation rather than a pipeline.
    parser.add_argument("--rate", type=float, default=1000, help="lines per second in the paced phase")
    parser.add_argument("--burst", type=int, default=50000, help="lines in the burst phase (0: skip)")
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument(
        "--repeat", type=int, default=3, help="paced runs; the one with the median panel p95 is reported"
    )
    add_write_flag(parser)
    args = parser.parse_args()

    db_url = os.environ.get("PANEL_BENCH_DATABASE_URL", DEFAULT_DB)
    stack = Stack(db_url)
    try:
        prepare_database(db_url)
        from django.conf import settings

        settings.JOB_LOG_REDIS_URL = stack.env["PANEL_JOB_LOG_REDIS_URL"]
        from panel.celery import app

        app.conf.broker_url = stack.env["PANEL_BROKER_URL"]
        register_runners()
        lab = get_lab()
        stack.start()
        cookie = session_cookie()
        say(f"paced: {args.lines} lines at {args.rate:.0f}/s, {args.viewers} viewers (lab service)")
        runs = []
        for _ in range(max(1, args.repeat)):
            phase = run_phase(stack, lab, cookie, lines=args.lines, rate=args.rate, viewers=args.viewers)
            runs.append(summarize(phase, args.lines))
            say(
                f"  run {len(runs)}: panel p95 {fmt(runs[-1]['p95'])} ms, "
                f"direct p95 {fmt(runs[-1]['direct_p95'])} ms ({load()})"
            )
            missing = [k for k in ("p95", "direct_p95") if runs[-1][k] != runs[-1][k]]  # NaN
            if missing:
                raise CannotMeasure(
                    f"no timed line for {', '.join(missing)} (job {runs[-1]['state']}); see {stack.logdir}"
                )
        # The machine is shared: one run can be unlucky either way. Report the median run, whole
        # (its direct figures came from the same seconds), and list the others.
        paced = sorted(runs, key=lambda r: r["p95"])[len(runs) // 2]
        paced["runs"] = [(r["p95"], r["direct_p95"]) for r in runs]
        paced["lost"] = sum(r["lost"] for r in runs)
        burst = None
        if args.burst:
            say(f"burst: {args.burst} lines as fast as the service prints, {args.viewers} viewers")
            phase = run_phase(stack, lab, cookie, lines=args.burst, rate=0, viewers=args.viewers)
            burst = summarize(phase, args.burst)
            say(f"  ({load()})")
        result = report(args, paced, burst)
        if args.write:
            write_section("log_stream", results_section(command_line(), args, paced, burst, result))
        return result
    finally:
        stack.stop()


if __name__ == "__main__":
    run(main)
