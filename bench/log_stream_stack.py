"""The services the log_stream benchmark brings up on loopback: a private redis-server, uvicorn and a
Celery worker, against the bench database, each started with the interpreter that runs the bench."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from pathlib import Path

from bench._processes import cpu_seconds, free_port, kill_group, redis_server_argv
from bench._run import ROOT, CannotMeasure, python_module


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
        """Start the three (in this order: `cpu` names them by it) and wait until uvicorn answers."""
        redis_server = redis_server_argv(self.redis_port)
        uvicorn = python_module("uvicorn")
        celery = python_module("celery")
        self._spawn("redis", redis_server)
        web = [*uvicorn, "panel.asgi:application", "--host", "127.0.0.1", "--port", str(self.web_port)]
        web += ["--lifespan", "off", "--log-level", "warning", "--no-access-log"]
        self._spawn("web", web)
        worker = [*celery, "-A", "panel", "worker", "-P", "prefork", "-c", "1"]
        worker += ["--include", "log_stream_runner", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"]
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        self._spawn("worker", worker)
        self._wait_for_web()

    def _wait_for_web(self) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise CannotMeasure("uvicorn did not start; see " + str(self.logdir))

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by redis, the web server and the worker (with its pool): a figure
        that does not depend on how busy the machine is, unlike the delays."""
        names = ("redis", "web", "worker")
        return {name: cpu_seconds(proc.pid) for name, proc in zip(names, self.procs, strict=False)}

    def stop(self) -> None:
        for proc in reversed(self.procs):
            kill_group(proc)
            proc.wait(5)
