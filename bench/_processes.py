"""Helper processes a benchmark starts on loopback: a private redis-server (the benches' job ids
restart at 1, so their live logs keep off the shared Redis), free ports, killing a process group,
and the CPU a process tree used."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench._run import require_program


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_argv(port: int) -> list[str]:
    """A redis-server on 127.0.0.1:port that keeps nothing on disk (or CannotMeasure)."""
    binary = require_program("redis-server")
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def private_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server of this run's own on a free port, and its URL (database 0)."""
    port = free_port()
    proc = subprocess.Popen(redis_server_argv(port), stdout=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True, and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (e.g. a prefork worker's pool processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{current}/task/{current}/children").read_text().split():
                todo.append(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants, from /proc: a
    figure that does not depend on how busy the machine is, unlike a delay."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
