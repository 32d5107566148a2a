"""Traefik labels for the Odoo service: built from a SiteSpec, and parsed back from any label dict.

Why each label: Traefik reads *service* labels on Swarm; the server port is mandatory (there is no port
detection on Swarm); one router names every domain (a domain missing from the rule is a silent 404); v3
matchers take a single value, so several hosts are OR-ed, v2 also accepted ``Host(`a`,`b`)``; the network
label prefix is `traefik.swarm.` on v3 and `traefik.docker.` on v2 (both at once is an error); lbswarm is
never set because it would bypass the sticky cookie; with workers > 0 the /websocket path goes to the
gevent port 8072. Parsing is shared by the rendered and the live side so drift and preflight compare like
with like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from clusters.stack.spec import ODOO_GEVENT_PORT, ODOO_HTTP_PORT, SiteSpec

NETWORK_LABEL = {"v3": "traefik.swarm.network", "v2": "traefik.docker.network"}
WS_PATH = "/websocket"
_HOST_RE = re.compile(r"\bHost\(([^)]*)\)")
_TICK_RE = re.compile(r"`([^`]*)`")
_PATH_RE = re.compile(r"\bPathPrefix\(`([^`]*)`\)")
_ROUTER_RE = re.compile(r"^traefik\.http\.routers\.([^.]+)\.(.+)$")
_SERVICE_RE = re.compile(r"^traefik\.http\.services\.([^.]+)\.loadbalancer\.(.+)$")


def host_rule(domains: Sequence[str], version: str) -> str:
    if version == "v2":
        return "Host(" + ",".join(f"`{d}`" for d in domains) + ")"
    return " || ".join(f"Host(`{d}`)" for d in domains)


def websocket_rule(domains: Sequence[str], version: str) -> str:
    hosts = host_rule(domains, version)
    if version != "v2" and len(domains) > 1:
        hosts = f"({hosts})"
    return f"{hosts} && PathPrefix(`{WS_PATH}`)"


def router_names(slug: str) -> tuple[str, str]:
    """(web router/service name, websocket router/service name)."""
    return slug, f"{slug}-ws"


def traefik_labels(spec: SiteSpec, network: str) -> dict[str, str]:
    """Service labels for `<slug>_odoo`; `network` is the overlay Traefik shares with the replicas."""
    t = spec.traefik
    if not spec.domains:
        return {"traefik.enable": "false"}
    web, ws = router_names(spec.slug)
    labels = {"traefik.enable": "true", NETWORK_LABEL[t.version]: network}

    def router(name: str, rule: str) -> None:
        prefix = f"traefik.http.routers.{name}"
        labels[f"{prefix}.rule"] = rule
        labels[f"{prefix}.entrypoints"] = t.entrypoint
        labels[f"{prefix}.service"] = name
        if t.tls:
            labels[f"{prefix}.tls"] = "true"
            if t.certresolver:
                labels[f"{prefix}.tls.certresolver"] = t.certresolver

    router(web, host_rule(spec.domains, t.version))
    if t.middlewares:
        labels[f"traefik.http.routers.{web}.middlewares"] = ",".join(t.middlewares)
    lb = f"traefik.http.services.{web}.loadbalancer"
    labels[f"{lb}.server.port"] = str(ODOO_HTTP_PORT)
    labels[f"{lb}.sticky.cookie"] = "true"
    labels[f"{lb}.sticky.cookie.name"] = t.sticky_cookie
    # Secure only when the router serves TLS: browsers drop Secure cookies received over plain http.
    labels[f"{lb}.sticky.cookie.secure"] = "true" if t.tls else "false"
    labels[f"{lb}.sticky.cookie.httponly"] = "true"
    labels[f"{lb}.sticky.cookie.samesite"] = t.samesite
    if spec.workers > 0:
        # No sticky cookie here: a second cookie-setting service would overwrite the web one's value.
        router(ws, websocket_rule(spec.domains, t.version))
        labels[f"traefik.http.services.{ws}.loadbalancer.server.port"] = str(ODOO_GEVENT_PORT)
    return labels


def rule_domains(rule: str) -> list[str]:
    """Every host named in Host(...) matchers, in order, either syntax."""
    return [d for group in _HOST_RE.findall(rule) for d in _TICK_RE.findall(group)]


def parse_labels(labels: Mapping[str, str]) -> dict[str, Any]:
    """Traefik's view of a label dict, JSON-able: enabled, network labels, routers and load-balancer
    services."""
    routers: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    for key, value in labels.items():
        if m := _ROUTER_RE.match(key):
            r = routers.setdefault(
                m.group(1),
                {
                    "rule": "",
                    "domains": [],
                    "path_prefixes": [],
                    "entrypoints": [],
                    "service": None,
                    "tls": False,
                    "certresolver": None,
                },
            )
            attr = m.group(2)
            if attr == "rule":
                r.update(rule=value, domains=rule_domains(value), path_prefixes=_PATH_RE.findall(value))
            elif attr == "entrypoints":
                r["entrypoints"] = [e.strip() for e in value.split(",") if e.strip()]
            elif attr == "service":
                r["service"] = value
            elif attr == "tls":
                r["tls"] = value.lower() == "true"
            elif attr == "tls.certresolver":
                r["certresolver"] = value
        elif m := _SERVICE_RE.match(key):
            s = services.setdefault(m.group(1), {"port": None, "sticky": {}})
            attr = m.group(2)
            if attr == "server.port":
                s["port"] = int(value) if value.isascii() and value.isdigit() else value
            elif attr.startswith("sticky.cookie"):
                s["sticky"][attr.removeprefix("sticky.cookie").lstrip(".") or "enabled"] = value
    return {
        "enabled": labels.get("traefik.enable", "").lower() == "true",
        "network_labels": {
            k: v for k, v in labels.items() if k.endswith(".network") and k.startswith("traefik.")
        },
        "lbswarm": any(k.endswith(".lbswarm") and k.startswith("traefik.") for k in labels),
        "routers": routers,
        "services": services,
    }
