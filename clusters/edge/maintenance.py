"""The maintenance page: what a site's domains answer while it has no replica that can serve.

Traefik's Swarm provider drops a service that has no running task, and with it the site's router:
requests then got 404 (or 502/504 from a task that stopped mid-request). The edge therefore runs one
small service that answers every request with 503, `Retry-After` and a page naming the site and what
is happening, and carries, for every site behind the edge, a fallback router on the site's domains at
the lowest priority. While the site's own router exists it wins; when the site is at 0 replicas or
its new tasks are not healthy yet (Swarm lists a task as running only once its healthcheck passed),
the fallback answers. The site's router also sends its 502-504 to the same page (errors middleware).

Only service labels change when a site is added or its state changes: Swarm restarts no task for
that, and Traefik reads the new labels within its refresh interval. A panel rewrites the fallbacks
of its own sites and keeps those of sites it does not hold while their Odoo service exists (another
panel's database on the same Swarm: the lab's parallel test processes are exactly that).
The server is a few lines of Python run with `python3 -c` in any image that has Python
(`maintenance_image`): nothing to build.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from docker.types import EndpointSpec, RestartPolicy, ServiceMode, UpdateConfig

from clusters.stack.service_spec import ServiceSpec
from clusters.stack.traefik import NETWORK_LABEL, host_rule

SERVICE_NAME = "panel-edge-maintenance"
LB = "panel-maintenance"  # Traefik's name for its load balancer and for the errors middleware
ERRORS_MIDDLEWARE = f"{LB}@swarm"
PORT = 8080
RETRY_AFTER_S = 15
S = 1_000_000_000

SERVER = r"""
import html, http.server, urllib.parse
TEMPLATE = (
    "<!doctype html><html lang=en><meta charset=utf-8><meta http-equiv=refresh content=%d>"
    "<title>%s: back in a moment</title><h1>%s will be back in a moment</h1><p>%s</p>"
    "<p>This page reloads by itself.</p></html>"
)
def header(request, name, default):
    return html.escape(urllib.parse.unquote(request.headers.get(name) or default))
class Page(http.server.BaseHTTPRequestHandler):
    def answer(self):
        site = header(self, "X-Panel-Site", self.headers.get("Host") or "This site")
        what = header(self, "X-Panel-Reason", "It is starting or under maintenance.")
        body = (TEMPLATE % (RETRY, site, site, what)).encode()
        self.send_response(503)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Retry-After", str(RETRY))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Panel-Maintenance", "1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body
    def do_GET(self):
        self.wfile.write(self.answer())
    def do_HEAD(self):
        self.answer()
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", PORT), Page).serve_forever()
"""


@dataclass(frozen=True)
class Fallback:
    """One site behind the edge: its domains and what its maintenance page says."""

    slug: str
    name: str
    domains: tuple[str, ...]
    entrypoint: str
    reason: str


def server_source() -> str:
    return f"PORT = {PORT}\nRETRY = {RETRY_AFTER_S}\n" + SERVER


def fallback_labels(network: str, fallbacks: Iterable[Fallback]) -> dict[str, str]:
    labels = {
        "traefik.enable": "true",
        NETWORK_LABEL["v3"]: network,
        f"traefik.http.services.{LB}.loadbalancer.server.port": str(PORT),
        f"traefik.http.middlewares.{LB}.errors.status": "502-504",
        f"traefik.http.middlewares.{LB}.errors.service": LB,
        f"traefik.http.middlewares.{LB}.errors.query": "/",
        f"traefik.http.middlewares.{LB}.errors.statusRewrites.502-504": "503",
    }
    for site in sorted(fallbacks, key=lambda f: f.slug):
        if not site.domains:
            continue
        router, headers = f"traefik.http.routers.maintenance-{site.slug}", f"maintenance-{site.slug}"
        labels[f"{router}.rule"] = host_rule(site.domains, "v3")
        labels[f"{router}.priority"] = "1"  # below every site router (Traefik's default: the rule's length)
        labels[f"{router}.entrypoints"] = site.entrypoint
        labels[f"{router}.service"] = LB
        labels[f"{router}.middlewares"] = headers
        prefix = f"traefik.http.middlewares.{headers}.headers.customrequestheaders"
        labels[f"{prefix}.X-Panel-Site"] = quote(site.name or site.slug)
        labels[f"{prefix}.X-Panel-Reason"] = quote(site.reason)
    return labels


FALLBACK_PREFIXES = ("traefik.http.routers.maintenance-", "traefik.http.middlewares.maintenance-")


def fallback_groups(labels: dict[str, str]) -> dict[str, dict[str, str]]:
    """A maintenance service's fallback labels by site slug (its router and its headers middleware)."""
    groups: dict[str, dict[str, str]] = {}
    for key, value in labels.items():
        if key.startswith(FALLBACK_PREFIXES):
            slug = key.split(".")[3].removeprefix("maintenance-")
            groups.setdefault(slug, {})[key] = value
    return groups


def maintenance_service(
    image: str, network: str, fallbacks: Iterable[Fallback], kept: dict[str, str] | None = None
) -> ServiceSpec:
    """`kept`: fallback labels of sites this panel does not hold (clusters/edge/fallbacks.py)."""
    return ServiceSpec(
        name=SERVICE_NAME,
        role="maintenance",
        image=image,
        command=["python3", "-c", server_source()],
        args=[],
        env={},
        mounts=[],
        networks=[network],
        labels={"panel.role": "edge-maintenance", **(kept or {}), **fallback_labels(network, fallbacks)},
        container_labels={"panel.role": "edge-maintenance"},
        mode=ServiceMode("replicated", replicas=1),
        restart_policy=RestartPolicy(condition="any", delay=2 * S),
        endpoint_spec=EndpointSpec(mode="dnsrr"),
        update_config=UpdateConfig(parallelism=1, order="start-first", failure_action="rollback"),
        constraints=["node.role==manager"],  # beside Traefik: one node fewer between them
        stop_grace_period=5 * S,
    )
