"""Preflight checks on how Traefik reaches the site: the sticky cookie, the domains and the router rule, the
labels Traefik needs on Swarm, the network it shares with the replicas, and the /websocket route."""

from __future__ import annotations

from clusters.stack.checks_common import Outcome, Services, service
from clusters.stack.rules import domain_problem
from clusters.stack.spec import ODOO_GEVENT_PORT, ODOO_HTTP_PORT, SiteSpec
from clusters.stack.traefik import NETWORK_LABEL, WS_PATH, router_names


def sticky_cookie(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = service(spec, s, "odoo")
    t = svc["traefik"]
    if t["lbswarm"]:
        return False, f"{svc['name']} sets lbswarm: Traefik targets the VIP and sticky cookies have no effect"
    sticky = t["services"].get(router_names(spec.slug)[0], {}).get("sticky", {})
    want = {
        "enabled": "true",
        "name": spec.traefik.sticky_cookie,
        "httponly": "true",
        "samesite": spec.traefik.samesite,
        "secure": "true" if spec.traefik.tls else "false",
    }
    bad = [
        f"{k}={sticky.get(k)!r} (want {v})" for k, v in want.items() if str(sticky.get(k, "")).lower() != v
    ]
    if bad:
        return False, f"sticky cookie of {svc['name']}: " + ", ".join(bad)
    return True, f"cookie {spec.traefik.sticky_cookie}: httponly, samesite={spec.traefik.samesite}" + (
        ", secure" if spec.traefik.tls else ""
    )


def _web_domains(spec: SiteSpec, s: Services) -> list[str]:
    router = service(spec, s, "odoo")["traefik"]["routers"].get(router_names(spec.slug)[0])
    return list(router["domains"]) if router else []


def domains_valid(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if not spec.domains:
        return False, "the site has no domain"
    domains = _web_domains(spec, s)
    problems = [p for p in map(domain_problem, domains) if p]
    if problems:
        return False, "; ".join(problems)
    if len(set(domains)) != len(domains):
        return False, "a domain is listed twice in the rule"
    return True, f"{len(domains)} valid domain(s)"


def domains_in_rule(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = service(spec, s, "odoo")
    if not svc["traefik"]["enabled"]:
        return False, f"Traefik is not enabled on {svc['name']}"
    domains = _web_domains(spec, s)
    missing = [d for d in spec.domains if d not in domains]
    if missing or not spec.domains:
        return False, f"missing from the router rule of {svc['name']}: {', '.join(missing) or '(no domain)'}"
    return True, f"one router names all of {', '.join(spec.domains)}"


def traefik_labels(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = service(spec, s, "odoo")
    t, web = svc["traefik"], router_names(spec.slug)[0]
    router = t["routers"].get(web)
    if not t["enabled"] or router is None:
        return False, f"no Traefik router {web} on {svc['name']}"
    port = t["services"].get(router["service"] or web, {}).get("port")
    if port != ODOO_HTTP_PORT:
        return False, f"router {web} has server port {port}, not {ODOO_HTTP_PORT} (mandatory on Swarm)"
    if spec.traefik.entrypoint not in router["entrypoints"]:
        return False, f"router {web} is not on entrypoint {spec.traefik.entrypoint}"
    if spec.traefik.tls and not router["tls"]:
        return False, f"router {web} does not serve TLS"
    if spec.traefik.tls and spec.traefik.certresolver and router["certresolver"] != spec.traefik.certresolver:
        return False, f"router {web} does not use cert resolver {spec.traefik.certresolver}"
    nets = t["network_labels"]
    want = NETWORK_LABEL[spec.traefik.version]
    if list(nets) != [want]:
        return (
            False,
            f"network label must be {want} alone for Traefik {spec.traefik.version}, found {list(nets)}",
        )
    if svc["networks"] is not None and nets[want] not in svc["networks"]:
        return False, f"{want}={nets[want]} names a network {svc['name']} is not attached to"
    return (
        True,
        f"router {web}: port {ODOO_HTTP_PORT}, entrypoint {spec.traefik.entrypoint}, {want}={nets[want]}",
    )


def traefik_network(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if not spec.traefik.network:
        return False, f"no Traefik network set: Traefik must be attached to {spec.network_name} by hand"
    svc = service(spec, s, "odoo")
    if svc["networks"] is not None and spec.traefik.network not in svc["networks"]:
        return False, f"{svc['name']} is not attached to Traefik's network {spec.traefik.network}"
    return True, f"{svc['name']} shares {spec.traefik.network} with Traefik"


def websocket_route(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    t = service(spec, s, "odoo")["traefik"]
    ws = [(n, r) for n, r in t["routers"].items() if WS_PATH in r["path_prefixes"]]
    if spec.workers == 0:
        if ws:
            return False, f"router {ws[0][0]} sends /websocket to port 8072, but workers=0 serves it on 8069"
        return True, "workers=0: /websocket is served on 8069"
    if not ws:
        return False, f"workers={spec.workers} but no /websocket router: live chat and bus fail"
    name, r = ws[0]
    port = t["services"].get(r["service"] or name, {}).get("port")
    missing = [d for d in spec.domains if d not in r["domains"]]
    if port != ODOO_GEVENT_PORT or missing:
        return (
            False,
            f"router {name} goes to port {port} (want {ODOO_GEVENT_PORT}); missing domains: {missing}",
        )
    return True, f"router {name}: /websocket on every domain to port {ODOO_GEVENT_PORT}"
