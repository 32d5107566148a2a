"""Real services for the job engine's integration tests, each a subprocess on a random loopback port.

- a private redis-server: the live-log streams and the Celery broker of these tests. Private, so a
  test can kill and restart it (the Redis fault test) and so that nothing collides with another
  suite or a `make run` worker on the machine's shared Redis;
- uvicorn serving panel.asgi (server-sent events need an ASGI server);
- a Celery worker (prefork) that a test may SIGKILL.
All three point at pytest-django's test database, so the tests that use them are transactional.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check, timeout: float, what: str, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise AssertionError("redis-server is not installed (make test installs it)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _pings(client), 10, f"redis-server on port {self.port}")
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def restart(self) -> None:
        self.kill()
        self.start()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def database_url(db_settings: dict) -> str:
    user = db_settings.get("USER") or "postgres"
    password = f":{db_settings['PASSWORD']}" if db_settings.get("PASSWORD") else ""
    host = db_settings.get("HOST") or "127.0.0.1"
    port = db_settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db_settings['NAME']}"


def service_env(db_url: str, redis_server: RedisServer, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PANEL_DATABASE_URL=db_url,
        PANEL_JOB_LOG_REDIS_URL=redis_server.url(0),
        PANEL_BROKER_URL=redis_server.url(1),
        PANEL_RESULT_BACKEND=redis_server.url(1),
        PANEL_DB_CONN_MAX_AGE="0",
        PANEL_JOB_HEARTBEAT_SECONDS="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Uvicorn:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Uvicorn:
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "uvicorn"),
                "panel.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        wait_for(self._ready, 30, "uvicorn to answer /healthz", every=0.1)
        return self

    def _ready(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(f"uvicorn exited with {self.proc.returncode}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        _stop_group(self.proc)


@dataclass
class Worker:
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    logfile: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="jobs-worker-", suffix=".log")[1])
    )

    def start(self) -> Worker:
        name = f"jobs-test-{uuid.uuid4().hex[:8]}@%h"
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "panel",
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    "1",
                    "-n",
                    name,
                    "--include",
                    "tests.jobs.runners",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "INFO",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGKILL takes the pool children too
            )
        wait_for(self._ready, 60, "the celery worker to be ready", every=0.1)
        return self

    def _ready(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(f"celery worker exited: {self.output()[-3000:]}")
        return " ready." in self.output()

    def output(self) -> str:
        return self.logfile.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()  # a test worker has nothing to finish; a warm shutdown only costs seconds
        with contextlib.suppress(OSError):
            self.logfile.unlink()


def _stop_group(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(8)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
