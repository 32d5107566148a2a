"""What the lab made, written down, so `down()` removes exactly that and nothing else.

The file (/var/lib/oplab/state.json) records which workers exist and the last image refs. Everything
else is recognisable by itself: names follow config.WorkerNames (`oplab-*`), the firewall rule carries
an `oplab` comment, and a swarm the lab created carries the `oplab.created` label. So a lost file still
lets `down()` find exactly what the lab made.
"""

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from lab import config


@dataclass
class State:
    workers: list[int] = field(default_factory=list)  # indexes of the worker engines up() made
    images: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> ref and digest, for reading

    @classmethod
    def load(cls) -> "State":
        try:
            raw = json.loads(config.STATE_FILE.read_text())
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self) -> None:
        config.STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = config.STATE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        os.replace(tmp, config.STATE_FILE)


_depth = threading.local()


@contextmanager
def locked() -> Iterator[None]:
    """One `up`/`down` at a time on this machine: several test sessions and shells share one lab.

    Re-entrant within a thread, so a caller may hold it around `down()` plus its own checks.
    """
    if getattr(_depth, "n", 0):
        _depth.n += 1
        try:
            yield
        finally:
            _depth.n -= 1
        return
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _depth.n = 1
        try:
            yield
        finally:
            _depth.n = 0
            fcntl.flock(fh, fcntl.LOCK_UN)
