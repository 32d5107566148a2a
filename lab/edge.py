"""The lab's edge: the real Traefik (lab/images/traefik) deployed by the panel's own code on the
manager, on the overlay the lab's sites share with it, answering on the lab bridge (10.231.0.1,
ports 80 and 443; its API on 8099), serving the lab CA's certificate for *.lab.test (lab/edge_tls.py).
`lab up` brings it up; tests ask for it with `ensure_lab_edge`. Clients reach it only at that address,
verifying that certificate (lab/edge_client.py)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from typing import Any

from clusters import engine
from clusters.edge.deploy import deploy_edge
from clusters.edge.status import EdgeStatus
from clusters.models import Edge
from lab import config
from lab.api import LabInfo
from lab.edge_tls import ensure_site_certificate
from lab.proc import Log

NETWORK = "traefik-public"
ADDRESS = config.HOST_ADDR
HTTP_PORT = 80
HTTPS_PORT = 443
API_PORT = 8099
API_URL = f"http://{ADDRESS}:{API_PORT}"


def _quiet(_: str) -> None:
    pass


def lab_edge_fields(lab: LabInfo) -> dict[str, Any]:
    return {
        "image": lab.image("traefik").ref,
        "network": NETWORK,
        "api_host": ADDRESS,
        "http_port": HTTP_PORT,
        "https_port": HTTPS_PORT,
        "api_port": API_PORT,
        "acme_email": "",
        "maintenance_image": lab.image("redis").ref,  # the lab's base carries python3
    }


@contextlib.contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Parallel test processes each ensure the one edge of the lab; one applies it at a time."""
    config.STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(config.STATE_DIR / "edge.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_lab_edge(cluster: Any, lab: LabInfo, log: Log = _quiet) -> EdgeStatus:
    """The lab cluster's Edge row with the lab's settings and certificate, deployed (nothing changes
    when it already runs that spec), and Traefik's answer."""
    with _one_at_a_time(), engine.client_for(cluster) as client:
        cert, key = ensure_site_certificate()
        fields = {**lab_edge_fields(lab), "default_cert": cert, "default_key": key}
        edge, _ = Edge.objects.update_or_create(cluster=cluster, defaults=fields)
        return deploy_edge(client, edge, log)
