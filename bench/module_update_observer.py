"""The outside observer of the module_update benchmark: it polls the engine's task list and times both
ways the same way, the downtime window and its parts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench._lab import ENDED
from bench._polling import Polling

POLL_S = 0.1  # the outside observer


@dataclass
class Sample:
    at: float
    web_running: int  # tasks of <site>_odoo in state running (healthy: they have a healthcheck)
    one_off: str  # state of the update one-off's task ("" when there is none)


class Observer(Polling):
    """Polls the engine every POLL_S: how many web tasks run, and the update one-off's state."""

    interval = POLL_S

    def __init__(self, client: Any, slug: str) -> None:
        super().__init__()
        self.client, self.slug = client, slug

    def sample(self) -> Sample | None:
        api = self.client.api
        try:
            services = {s["ID"]: s["Spec"]["Name"] for s in api.services(filters={"name": self.slug})}
            web, one_off = 0, ""
            for task in api.tasks(filters={"service": list(services)}) if services else []:
                name, state = services.get(task["ServiceID"], ""), task["Status"]["State"]
                if name == f"{self.slug}_odoo" and state == "running":
                    web += 1
                elif name.startswith(f"{self.slug}_update") and state != "new":
                    one_off = state
        except Exception:  # noqa: BLE001 - a service removed between the two calls: no sample
            return None
        return Sample(time.time(), web, one_off)

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
            "down_at": seen[down].at,
            "up_at": seen[up].at,
        }
