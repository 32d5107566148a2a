"""One phase of the log_stream benchmark: a lab service prints numbered lines while the job follows
it and the viewers, the direct peer and the Redis tap read them; then the phase's figures."""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from typing import Any

from bench._report import nearest_rank, say
from bench.log_stream_lines import PRINTER
from bench.log_stream_stack import Stack
from bench.log_stream_taps import DirectFollow, RedisTap
from bench.log_stream_viewers import collect_viewers, start_viewers


def run_phase(stack: Stack, lab: Any, cookie: dict, *, lines: int, rate: float, viewers: int) -> dict:
    """Print `lines` at `rate` per second (0: as fast as it can) from a lab service on a worker, and
    read them every way at once; what each reader got, and the CPU each part used."""
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
    """A phase's figures: delays (p50, p95, p99) per reader, rates, lines lost and repeated."""
    lat = [x for v in phase["viewers"] for x in v["lat"]]
    # Lines some viewer never got, or that the stored log lacks; a repeat is counted apart.
    lost = sum(max(0, lines - v["count"]) for v in phase["viewers"]) + (lines - phase["stored"])
    lost += sum(v["holes"] for v in phase["viewers"])
    rates = [v["count"] / (v["last"] - v["first"]) for v in phase["viewers"] if v["last"] > v["first"]]
    direct = phase["direct"]
    return {
        "redis_p50": nearest_rank(phase["tap"], 50),
        "redis_p95": nearest_rank(phase["tap"], 95),
        "redis_rate": phase["tap_rate"],
        "p50": nearest_rank(lat, 50),
        "p95": nearest_rank(lat, 95),
        "p99": nearest_rank(lat, 99),
        "direct_p50": nearest_rank(direct.lat, 50),
        "direct_p95": nearest_rank(direct.lat, 95),
        "direct_p99": nearest_rank(direct.lat, 99),
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
