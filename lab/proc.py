"""Small process helpers: run a command with a readable failure, poll with a deadline, find pids.

Every wait in the lab has a deadline: an engine that never answers must fail the caller with the
log file to read, not hang a test session.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.errors import LabError

# How the lab reports progress: one line at a time (to a command's output, a test's stderr).
Log = Callable[[str], None]


def run(cmd: Sequence[str], *, check: bool = True, timeout: float = 120, input_: bytes | None = None) -> str:
    """Run a command without a shell; return its stdout, or raise LabError with its stderr."""
    try:
        res = subprocess.run(list(cmd), capture_output=True, timeout=timeout, input=input_, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{cmd[0]} not found: run lab/install-engine.sh as root") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(cmd)} did not finish within {timeout:.0f}s") from exc
    if check and res.returncode != 0:
        err = res.stderr.decode(errors="replace").strip() or res.stdout.decode(errors="replace").strip()
        raise LabError(f"{' '.join(cmd)} failed ({res.returncode}): {err[-2000:]}")
    return res.stdout.decode(errors="replace")


def wait_for(
    what: str, probe: Callable[[], bool], deadline_s: float, hint: str = "", step: float = 0.2
) -> None:
    """Poll `probe` until it is True; at the deadline raise LabError naming `what` and where to look."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            if probe():
                return
        except Exception:  # noqa: S110 - a probe that raises is simply "not yet"
            pass
        if time.monotonic() > end:
            raise LabError(f"{what}: not ready after {deadline_s:.0f}s" + (f"; {hint}" if hint else ""))
        time.sleep(step)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def find_pids(predicate: Callable[[list[str]], bool]) -> list[int]:
    """Pids whose command line matches; the lab's own processes are recognised by their oplab paths."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and predicate(argv := cmdline(int(entry.name))) and argv:
            pids.append(int(entry.name))
    return sorted(pids)


def stop(pid: int, what: str, grace_s: float = 15) -> None:
    """SIGTERM, wait, then SIGKILL: dockerd needs a few seconds to stop its containers cleanly."""
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace_s
    while time.monotonic() < end:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_for(f"{what} (pid {pid}) to exit after SIGKILL", lambda: not pid_alive(pid), 5)


def spawn(cmd: Sequence[str], log_file: Path) -> None:
    """Start a long-lived daemon, detached, output appended to log_file (no systemd here).

    `setsid --fork` double-forks: the daemon is re-parented to init, so a daemon that dies (or is
    killed by a test) is reaped by init instead of lingering as a zombie of the Python process that
    started it. Callers find the daemon's pid by its pidfile or its command line.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        subprocess.run(  # noqa: S603 - fixed argument list, no shell
            ["setsid", "--fork", *cmd],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=True,
            close_fds=True,
        )
