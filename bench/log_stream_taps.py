"""The two readers of the log_stream benchmark beside its viewers: the direct peer (`docker service
logs --follow`, what an admin would tail) and a tap on the job's Redis Stream, which splits the
panel's delay into the worker's side and the web side."""

from __future__ import annotations

import subprocess
import threading
import time

from bench._processes import kill_group
from bench.log_stream_lines import LINE, SAMPLE


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
        kill_group(self.proc)
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
