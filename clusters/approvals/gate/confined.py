"""Unpack in a child process with its own memory, CPU and file-size limits, killed at a deadline.

tarfile and zipfile parse hostile bytes: whatever the pre-scan did not foresee can only exhaust the
child, never the web process, its memory or its GIL. The child starts from a bare environment (no
secret to read), gets its request on stdin and answers with one JSON object on stdout; both of its
outputs go to files, so nothing it prints can grow in the parent's memory.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from clusters.approvals.gate.errors import ArchiveError
from clusters.approvals.gate.extract import extract
from clusters.approvals.gate.limits import ArchiveLimits

MODULE = "clusters.approvals.gate.confined"
IMPORT_ROOT = str(Path(__file__).resolve().parents[3])
OUTPUT_BYTES = 64 << 10
CPU_GRACE_SECONDS = 5
log = logging.getLogger(__name__)


def unpack_in_child(path: str, kind: str, root: str, limits: ArchiveLimits) -> None:
    """Extract path into root (absolute paths) in a confined child; ArchiveError for a refusal, a
    limit reached or a crash."""
    request = json.dumps({"path": path, "kind": kind, "root": root, "limits": asdict(limits)})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            child = subprocess.run(
                [_python(), "-P", "-m", MODULE],
                input=request.encode(),
                stdout=out,
                stderr=err,
                env=_bare_env(),
                cwd=os.path.dirname(root),
                timeout=limits.max_wall_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:  # run() has killed the child
            raise ArchiveError(f"the archive took more than {limits.max_wall_seconds} s to unpack") from None
        answer, errors = _tail(out), _tail(err)
    _raise_unless_done(child.returncode, answer, errors, limits)


def _raise_unless_done(returncode: int, answer: bytes, errors: bytes, limits: ArchiveLimits) -> None:
    reply = _reply(answer)
    if returncode == 0 and reply.get("ok") is True:
        return
    if returncode == 0 and isinstance(reply.get("error"), str):
        raise ArchiveError(reply["error"], str(reply.get("member") or ""))
    if reply.get("limit") == "memory" or b"MemoryError" in errors:
        raise ArchiveError(f"the archive took more than {limits.max_memory_bytes >> 20} MiB to unpack")
    if returncode == -signal.SIGXCPU:
        raise ArchiveError(f"the archive took more than {limits.max_cpu_seconds} s of CPU to unpack")
    log.warning("unpacking process ended with %s: %s", returncode, errors.decode(errors="replace"))
    if returncode == -signal.SIGKILL:
        raise ArchiveError("the unpacking process was killed (out of memory?)")
    raise ArchiveError(f"the archive could not be unpacked (the unpacking process ended with {returncode})")


def _reply(answer: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(answer)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _tail(output: IO[bytes]) -> bytes:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(size - OUTPUT_BYTES, 0))
    return output.read(OUTPUT_BYTES)


def _python() -> str:
    if not sys.executable:
        raise ArchiveError("cannot unpack: no Python interpreter to run the unpacking process")
    return sys.executable


def _bare_env() -> dict[str, str]:
    return {
        "PATH": os.defpath,
        "PYTHONPATH": IMPORT_ROOT,
        "PYTHONUTF8": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _confine(limits: ArchiveLimits) -> None:
    """The child's own limits, set before it reads a byte of the archive."""
    _lower(resource.RLIMIT_AS, limits.max_memory_bytes)
    _lower(resource.RLIMIT_CPU, limits.max_cpu_seconds, limits.max_cpu_seconds + CPU_GRACE_SECONDS)
    _lower(resource.RLIMIT_FSIZE, limits.max_member_bytes + OUTPUT_BYTES)
    _lower(resource.RLIMIT_CORE, 0)


def _lower(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def main() -> int:
    """The child: read the request, confine itself, extract, answer."""
    request = json.loads(sys.stdin.buffer.read(OUTPUT_BYTES))
    limits = ArchiveLimits(**request["limits"])
    _confine(limits)
    reply: dict[str, Any]
    try:
        extract(request["path"], request["kind"], Path(request["root"]), limits)
        reply = {"ok": True}
    except ArchiveError as exc:
        reply = {"error": exc.reason, "member": exc.member}
    except MemoryError:
        reply = {"limit": "memory"}
    sys.stdout.write(json.dumps(reply))  # after the try: a MemoryError's frames are released by now
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
