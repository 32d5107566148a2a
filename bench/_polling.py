"""An outside observer that samples something every `interval` seconds on a thread of its own, until
stopped: the module_update benchmark's engine observer and its client at the edge both are one."""

from __future__ import annotations

import threading
import time
from typing import Any


class Polling:
    interval = 0.1

    def __init__(self) -> None:
        self.samples: list[Any] = []
        self._stop = threading.Event()

    def start(self) -> Any:
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def sample(self) -> Any:
        """One sample, or None when there is nothing to record this time."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            found = self.sample()
            if found is not None:
                self.samples.append(found)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
