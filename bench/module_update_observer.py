"""The outside observer of the module_update benchmark: it polls the engine's task list and times both
ways the same way, the downtime window and its parts."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench._lab import ENDED

POLL_S = 0.1  # the outside observer


@dataclass
class Sample:
    at: float
    web_running: int  # tasks of <site>_odoo in state running (healthy: they have a healthcheck)
    one_off: str  # state of the update one-off's task ("" when there is none)


@dataclass
class Observer:
    """Polls the engine every POLL_S: how many web tasks run, and the update one-off's state."""

    client: Any
    slug: str
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Observer:
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        api = self.client.api
        while not self._stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):  # a service removed between the two calls
                services = {s["ID"]: s["Spec"]["Name"] for s in api.services(filters={"name": self.slug})}
                web, one_off = 0, ""
                for task in api.tasks(filters={"service": list(services)}) if services else []:
                    name, state = services.get(task["ServiceID"], ""), task["Status"]["State"]
                    if name == f"{self.slug}_odoo" and state == "running":
                        web += 1
                    elif name.startswith(f"{self.slug}_update") and state != "new":
                        one_off = state
                self.samples.append(Sample(time.time(), web, one_off))
            self._stop.wait(max(0.0, POLL_S - (time.monotonic() - started)))

    def window(self, since: float) -> dict[str, float]:
        """The downtime window of the update that began after `since`, and its parts."""
        seen = [s for s in self.samples if s.at >= since]
        down = next(i for i, s in enumerate(seen) if s.web_running == 0)
        up = next(i for i in range(down, len(seen)) if seen[i].web_running > 0)
        during = seen[down : up + 1]
        created = next((s.at for s in during if s.one_off), float("nan"))
        running = next((s.at for s in during if s.one_off == "running"), float("nan"))
        ended = next((s.at for s in during if s.one_off in ENDED), float("nan"))
        return {
            "window": seen[up].at - seen[down].at,
            "command": ended - created,  # the one-off service, from its task to its exit
            "odoo": ended - running,  # the `odoo -u` process alone
            "to_task": created - seen[down].at,
            "task_start": running - created,
            "to_healthy": seen[up].at - ended,
        }
