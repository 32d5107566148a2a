"""What the edge's Traefik says about itself, read from its own API: the version and every router a
provider gave it, with the servers its load balancer sends requests to. Preflight and the tests judge
routing from this, never from the labels the panel wrote."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import requests

TIMEOUT_S = (1.0, 2.0)  # connect, read: a page or a form that asks Traefik never waits long
PAGE = 1000  # Traefik's API pages its lists; a cluster's edge carries far fewer routers than this


class EdgeUnreachable(Exception):
    pass


@dataclass(frozen=True)
class Router:
    name: str  # as Traefik names it: `<router>@<provider>`, e.g. `shop@swarm`
    rule: str
    service: str  # `<service>@<provider>`
    servers: list[str] = field(default_factory=list)  # the load balancer's server URLs
    status: str = ""  # Traefik's: enabled, disabled (a broken rule), warning


@dataclass(frozen=True)
class EdgeStatus:
    version: str
    routers: list[Router]

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "routers": [asdict(r) for r in self.routers]}

    def routers_for(self, domain: str) -> list[Router]:
        needle = f"Host(`{domain}`)"
        return [r for r in self.routers if needle in r.rule]


def _get(session: requests.Session, base: str, path: str) -> Any:
    try:
        response = session.get(f"{base}{path}", timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise EdgeUnreachable(f"Traefik's API at {base} does not answer: {exc.__class__.__name__}") from exc
    if response.status_code != 200:
        raise EdgeUnreachable(f"Traefik's API at {base}{path} answered {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise EdgeUnreachable(f"{base}{path} did not answer as Traefik's API does (not JSON)") from exc


def _qualified(name: str, provider: str) -> str:
    return name if "@" in name else f"{name}@{provider}"


def read_status(api_url: str) -> EdgeStatus:
    """Traefik's routers (not its own internal ones) joined with their services' servers. An answer
    that is not shaped as Traefik's (a wrong address answering something else) is EdgeUnreachable."""
    with requests.Session() as session:
        version = _get(session, api_url, "/api/version")
        routers = _get(session, api_url, f"/api/http/routers?per_page={PAGE}")
        services = _get(session, api_url, f"/api/http/services?per_page={PAGE}")
    try:
        return _joined(str(version.get("Version", "")), routers, services)
    except (AttributeError, KeyError, TypeError) as exc:
        raise EdgeUnreachable(f"{api_url} did not answer as Traefik's API does ({exc!r})") from exc


def _joined(version: str, routers: list[dict[str, Any]], services: list[dict[str, Any]]) -> EdgeStatus:
    servers = {
        s["name"]: [srv.get("url", "") for srv in (s.get("loadBalancer") or {}).get("servers") or []]
        for s in services
    }
    found = []
    for r in routers:
        if r.get("provider") == "internal":
            continue
        service = _qualified(str(r.get("service", "")), str(r.get("provider", "")))
        found.append(
            Router(
                name=str(r.get("name", "")),
                rule=str(r.get("rule", "")),
                service=service,
                servers=sorted(servers.get(service, [])),
                status=str(r.get("status", "")),
            )
        )
    return EdgeStatus(version=version, routers=sorted(found, key=lambda r: r.name))
