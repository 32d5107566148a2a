"""The edge's Traefik spec, rendered from an Edge row alone (the lab tests run it for real)."""

from dataclasses import replace

import pytest

from clusters.edge import status as edge_status
from clusters.edge.checks import domain_owners
from clusters.edge.maintenance import Fallback, fallback_groups, fallback_labels, maintenance_service
from clusters.edge.render import edge_service, traefik_args
from clusters.models import Cluster, Edge
from clusters.sites.neutralized_copy import Neutralization
from clusters.stack.service_spec import engine_spec
from clusters.stack.traefik import traefik_labels
from tests.factories import site_spec


def edge(**kw) -> Edge:  # type: ignore[no-untyped-def]
    return Edge(cluster=Cluster(name="prod", endpoint="tcp://manager.example:2376"), **kw)


def test_traefik_reads_only_what_the_panel_enables_and_never_calls_out() -> None:
    args = traefik_args(edge())
    assert "--providers.swarm.exposedByDefault=false" in args
    assert "--providers.swarm.network=traefik-public" in args
    assert "--global.checkNewVersion=false" in args and "--global.sendAnonymousUsage=false" in args
    assert not any("lbswarm" in a for a in args)  # it would bypass the sticky cookie
    assert not any("certificatesresolvers" in a for a in args)  # no ACME without an account


def test_acme_only_with_an_account_email_and_its_storage_on_a_volume() -> None:
    spec = edge_service(edge(acme_email="ops@example.com"))
    assert "--certificatesresolvers.le.acme.email=ops@example.com" in spec.args
    assert any(m["Target"] == "/data" and m["Type"] == "volume" for m in spec.mounts)


def test_the_service_sits_on_a_manager_with_the_socket_read_only_and_host_ports() -> None:
    spec = edge_service(edge(http_port=8000, https_port=8443))
    assert spec.constraints == ["node.role==manager"]
    (socket,) = [m for m in spec.mounts if m["Target"] == "/var/run/docker.sock"]
    assert socket["ReadOnly"] is True
    ports = {p["PublishedPort"]: p for p in engine_spec(spec)["EndpointSpec"]["Ports"]}
    assert {8000, 8443, 8099} == set(ports)
    assert all(p["PublishMode"] == "host" for p in ports.values())
    assert ports[8443]["TargetPort"] == 443
    # Two tasks cannot hold one host port: an update stops the old one first.
    assert spec.update_config["Order"] == "stop-first"


def test_the_api_address_follows_the_endpoint_unless_given() -> None:
    assert edge().api_url == "http://manager.example:8099"
    assert edge(api_host="10.0.0.5", api_port=9000).api_url == "http://10.0.0.5:9000"
    local = Edge(cluster=Cluster(name="l", endpoint="unix:///var/run/docker.sock"))
    assert local.api_url == "http://127.0.0.1:8099"


@pytest.fixture
def traefik_answers(monkeypatch):  # type: ignore[no-untyped-def]
    """Traefik 3.7's API answers, as the lab's edge gave them (internal routers included)."""
    answers = {
        "/api/version": {"Version": "3.7.15", "Codename": "x"},
        "/api/http/routers?per_page=1000": [
            {
                "name": "api@internal",
                "rule": "PathPrefix(`/api`)",
                "service": "api@internal",
                "provider": "internal",
            },
            {
                "name": "shop@swarm",
                "rule": "Host(`a.test`) || Host(`b.test`)",
                "service": "shop",
                "provider": "swarm",
                "status": "enabled",
            },
        ],
        "/api/http/services?per_page=1000": [
            {
                "name": "shop@swarm",
                "loadBalancer": {
                    "servers": [{"url": "http://10.0.1.7:8069"}, {"url": "http://10.0.1.5:8069"}]
                },
                "provider": "swarm",
            },
        ],
    }
    monkeypatch.setattr(edge_status, "_get", lambda session, base, path: answers[path])


def test_status_joins_routers_with_their_servers_and_leaves_traefiks_own_out(traefik_answers) -> None:  # type: ignore[no-untyped-def]
    found = edge_status.read_status("http://x:8099")
    assert found.as_json() == {
        "version": "3.7.15",
        "routers": [
            {
                "name": "shop@swarm",
                "rule": "Host(`a.test`) || Host(`b.test`)",
                "service": "shop@swarm",
                "servers": ["http://10.0.1.5:8069", "http://10.0.1.7:8069"],
                "status": "enabled",
            }
        ],
    }
    assert [r.name for r in found.routers_for("b.test")] == ["shop@swarm"]


def test_each_site_gets_a_lowest_priority_fallback_that_names_it() -> None:
    shop = Fallback("shop", "Shop & Co", ("a.test", "b.test"), "websecure", "Its modules are being updated.")
    spec = maintenance_service("python:3.12-alpine", "traefik-public", [shop])
    labels = spec.labels
    router = "traefik.http.routers.maintenance-shop"
    assert labels[f"{router}.rule"] == "Host(`a.test`) || Host(`b.test`)"
    assert labels[f"{router}.priority"] == "1"
    assert labels[f"{router}.service"] == "panel-maintenance"
    headers = "traefik.http.middlewares.maintenance-shop.headers.customrequestheaders"
    assert labels[f"{headers}.X-Panel-Site"] == "Shop%20%26%20Co"  # header values stay plain ASCII
    # The site routers' 502-504 go to the same page, as a 503.
    assert labels["traefik.http.middlewares.panel-maintenance.errors.status"] == "502-504"
    assert labels["traefik.http.middlewares.panel-maintenance.errors.statusRewrites.502-504"] == "503"
    assert spec.command is not None and spec.command[:2] == ["python3", "-c"]
    compile(spec.command[2], "maintenance", "exec")
    assert set(fallback_groups(labels)) == {"shop"}


def test_fallbacks_of_sites_another_panel_holds_are_kept_and_ours_rewritten() -> None:
    theirs = fallback_labels("net", [Fallback("other", "Other", ("o.test",), "websecure", "x")])
    old_ours = fallback_labels("net", [Fallback("shop", "Shop", ("old.test",), "websecure", "x")])
    kept = fallback_groups({**theirs, **old_ours})["other"]
    spec = maintenance_service(
        "img", "net", [Fallback("shop", "Shop", ("new.test",), "websecure", "y")], kept
    )
    assert spec.labels["traefik.http.routers.maintenance-other.rule"] == "Host(`o.test`)"
    assert spec.labels["traefik.http.routers.maintenance-shop.rule"] == "Host(`new.test`)"


def test_a_site_router_names_the_edge_error_pages_only_when_given() -> None:
    spec = site_spec(slug="shop", domains=("shop.test",))
    assert "traefik.http.routers.shop.middlewares" not in traefik_labels(spec, "net")
    with_pages = replace(spec, traefik=replace(spec.traefik, middlewares=("panel-maintenance@swarm",)))
    assert (
        traefik_labels(with_pages, "net")["traefik.http.routers.shop.middlewares"]
        == "panel-maintenance@swarm"
    )


def test_a_domain_is_owned_by_any_router_but_the_sites_own_and_the_fallbacks() -> None:
    status = edge_status.EdgeStatus(
        "3.7.15",
        [
            edge_status.Router("shop@swarm", "Host(`a.test`)", "shop@swarm"),
            edge_status.Router(
                "shop-ws@swarm", "Host(`a.test`) && PathPrefix(`/websocket`)", "shop-ws@swarm"
            ),
            edge_status.Router("maintenance-shop@swarm", "Host(`a.test`)", "panel-maintenance@swarm"),
            edge_status.Router("legacy@file", "Host(`b.test`)", "legacy@file"),
        ],
    )
    mine = {"shop@swarm", "shop-ws@swarm"}
    assert domain_owners(status, ["a.test", "b.test", "c.test"], mine) == {"b.test": ["legacy@file"]}


def test_a_copy_is_neutralized_only_when_nothing_would_reach_the_world() -> None:
    assert Neutralization("acme_r", 0, 0, "True").ok
    assert Neutralization("acme_r", 1, 2, "").problems() == [
        "1 mail servers still active",
        "2 crons still active besides the autovacuum",
        "database.is_neutralized is not set",
    ]


def test_an_answer_not_shaped_as_traefiks_is_an_unreachable_edge(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A wrong address that answers 200 with something else must not become a 500 on a page."""
    monkeypatch.setattr(edge_status, "_get", lambda session, base, path: ["not", "traefik"])
    with pytest.raises(edge_status.EdgeUnreachable):
        edge_status.read_status("http://x:8099")
