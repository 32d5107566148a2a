"""What users see during the module_update benchmark: a client that asks the site's domain through
the lab's edge (the real Traefik, lab/edge_client.py) every 100 ms, as a browser would, and times
from the first answer that is not 200 to the first 200 after it. The maintenance page (503 from the
edge) is what the panel promises while the site is down; anything else (404, 502, 504, a refused
connection) is a bad response."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from bench._polling import Polling

POLL_S = 0.1


@dataclass
class EdgeSample:
    at: float
    status: int  # 0: no answer (refused, timed out)
    maintenance: bool  # the edge's maintenance page


class EdgeObserver(Polling):
    """Asks the site's domain through the edge every POLL_S, on one client session."""

    interval = POLL_S

    def __init__(self, domain: str) -> None:
        super().__init__()
        self.domain = domain
        self.http: Any = None

    def sample(self) -> EdgeSample:
        if self.http is None:
            from lab.edge_client import edge_session  # after Django is set up (it reaches the models)

            self.http = edge_session()
        try:
            r = self.http.get(f"https://{self.domain}/web/health", timeout=5)
        except requests.RequestException:
            return EdgeSample(time.time(), 0, False)
        return EdgeSample(time.time(), r.status_code, r.headers.get("X-Panel-Maintenance") == "1")

    def window(self, since: float, until: float) -> dict[str, float]:
        """Between `since` and `until`: the edge downtime (first non-200 to the first 200 after it;
        0 when every answer was 200) and the bad responses (neither 200 nor the maintenance page)."""
        seen = [s for s in self.samples if since <= s.at <= until]
        bad = sum(1 for s in seen if s.status != 200 and not (s.status == 503 and s.maintenance))
        down = next((i for i, s in enumerate(seen) if s.status != 200), None)
        counts = {"bad": float(bad), "answers": float(len(seen))}
        if down is None:
            return {"edge_window": 0.0, "down_at": float("nan"), "up_at": float("nan"), **counts}
        up = next((i for i in range(down, len(seen)) if seen[i].status == 200), len(seen) - 1)
        return {
            "edge_window": seen[up].at - seen[down].at,
            "down_at": seen[down].at,
            "up_at": seen[up].at,
            **counts,
        }


def edge_lead_lag(edge: dict[str, float], engine: dict[str, float]) -> dict[str, float]:
    """Where the edge's downtime lies around the engine's window: `lead`, how long users saw the site
    down before its last replica stopped (replicas stopping while Traefik still routes to them);
    `lag`, how long after the first replica was healthy again (Traefik noticing it: its refresh)."""
    return {"lead": engine["down_at"] - edge["down_at"], "lag": edge["up_at"] - engine["up_at"]}
