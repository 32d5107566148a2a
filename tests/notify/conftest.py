"""Real receivers on loopback for the notification tests: an SMTP server (aiosmtpd) and an HTTP
server that records what it gets and answers with the status it is told. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    server: Any = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/panel-token-xyz?key=query-secret"


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    controller.stop()


@pytest.fixture
def queued(monkeypatch):  # type: ignore[no-untyped-def]
    """The delivery ids emit() hands to Celery, kept here instead: each test sends them itself."""
    ids: list[int] = []
    monkeypatch.setattr("panel.notify.events.enqueue", ids.extend)
    return ids


@pytest.fixture
def job_logs(settings, private_redis):  # type: ignore[no-untyped-def]
    """Where a job run in the test writes its live log (the private Redis, as tests/jobs does)."""
    settings.JOB_LOG_REDIS_URL = private_redis.url(0)
    settings.JOB_HEARTBEAT_SECONDS = 1
