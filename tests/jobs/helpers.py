"""Small helpers for the job engine tests."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from django.db import connection
from django.test import Client

SEQ = re.compile(r'data-seq="(\d+)"')


def in_thread(fn: Callable[[], Any]) -> threading.Thread:
    """Run fn in a thread with its own database connection, closed at the end."""

    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def session_cookie(user: Any) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


class SSEReader:
    """Reads a server-sent event stream in a thread, keeping every event."""

    def __init__(self, url: str, cookies: dict[str, str], headers: dict[str, str] | None = None) -> None:
        self.url, self.cookies, self.headers = url, cookies, headers or {}
        self.events: list[dict[str, str]] = []
        self.status: int | None = None
        self.content_type = ""
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SSEReader:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, cookies=self.cookies, headers=self.headers, timeout=30) as r:
                self.status, self.content_type = r.status_code, r.headers.get("content-type", "")
                event: dict[str, str] = {}
                for line in r.iter_lines():
                    if line == "":
                        if event:
                            self.events.append(event)
                        event = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        event[name] = value[1:] if value.startswith(" ") else value
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.done.set()

    def seqs(self) -> list[int]:
        return [int(s) for e in list(self.events) if e.get("event") == "line" for s in SEQ.findall(e["data"])]

    def ended(self) -> dict[str, str] | None:
        return next((e for e in self.events if e.get("event") == "end"), None)


def user(username: str, role: str = "operator") -> Any:
    """A user with a role and no password (hashing one costs 0.3 s; transactional tests cannot share)."""
    from django.contrib.auth import get_user_model

    from panel.roles import assign_role, ensure_role_groups

    ensure_role_groups()
    made = get_user_model().objects.create(username=username)
    assign_role(made, role)
    return made
