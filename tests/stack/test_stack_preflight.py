"""Preflight: green by construction for valid specs; each item fails, with its reason, when it is broken."""

from __future__ import annotations

import copy

import pytest

from clusters.stack.preflight import CHECKS, blocking, preflight, side_by_side
from clusters.stack.render import render
from clusters.stack.spec import BindFilestore, NfsFilestore, SpecError, TraefikSpec

D = "sha256:" + "d" * 64
VALID = {
    "prod-v3-workers": {},
    "prod-v2-threaded-one-domain": {
        "workers": 0,
        "domains": ["erp.example.org"],
        "traefik": TraefikSpec(version="v2", network="proxy"),
    },
    "lab-bind-plain-http": {
        "cluster_mode": "lab",
        "filestore": BindFilestore("/srv/lab/acme"),
        "replicas": 1,
        "traefik": TraefikSpec(tls=False, entrypoint="web", network="traefik-lab"),
        "health_cmd": ["CMD", "python3", "/usr/local/bin/health"],
    },
    "lab-nfs-v2-many": {
        "cluster_mode": "lab",
        "filestore": NfsFilestore("10.231.0.1", "/srv/nfs", "rw,nfsvers=4.1"),
        "replicas": 3,
        "workers": 4,
        "extra_env": {"TZ": "UTC"},
        "extra_args": ["--limit-time-real=1200"],
        "server_wide_modules": ["queue_job"],
        "addons_path": ["/mnt/extra-addons", "/mnt/oca"],
        "traefik": TraefikSpec(version="v2", certresolver="le", network="proxy", samesite="strict"),
    },
    "stopped-site": {"replicas": 0},
    "series-18-registry-port": {
        "series": "18.0",
        "image": "127.0.0.1:5000/odoo:18.0",
        "db_image_digest": D,
        "redis_image_digest": D,
        "domains": [f"s{i}.example.com" for i in range(6)],
    },
}


def _by_key(results, source="rendered"):
    return {r.key: r for r in results if r.source == source}


@pytest.mark.parametrize("overrides", VALID.values(), ids=VALID.keys())
def test_valid_specs_are_all_green(make_spec, overrides):
    results = preflight(make_spec(**overrides))
    assert [r.key for r in results] == [c[0] for c in CHECKS]
    assert [(r.key, r.reason) for r in results if not r.ok] == []
    assert blocking(results) == []


@pytest.mark.parametrize("overrides", VALID.values(), ids=VALID.keys())
def test_live_equal_to_rendered_is_all_green(make_spec, overrides):
    spec = make_spec(**overrides)
    results = preflight(spec, live=render(spec).summary())
    live = [r for r in results if r.source == "live"]
    assert live and all(r.ok for r in live)
    assert "session_store_series" not in _by_key(results, "live")  # spec-only items are reported once


def test_unresolvable_image_blocks(make_spec):
    results = preflight(
        make_spec(), digest_resolution_error="manifest unknown: registry.example.com/odoo:17.0"
    )
    r = _by_key(results)["image_digest"]
    assert not r.ok and r.severity == "hard" and "manifest unknown" in r.reason and r.fix
    assert blocking(results) == [r]
    assert not _by_key(preflight(make_spec(image_digest=None)))["image_digest"].ok


def test_no_domain_blocks(make_spec):
    results = _by_key(preflight(make_spec(domains=())))
    assert not results["domains_valid"].ok and not results["domains_in_rule"].ok
    assert results["domains_valid"].severity == "hard"


def test_bind_filestore_in_production_is_not_even_rendered(make_spec):
    # The host rule (clusters/stack/host_access.py) refuses it before any check runs.
    with pytest.raises(SpecError, match="refused outside the lab"):
        preflight(make_spec(filestore=BindFilestore("/srv/acme")))


def test_live_bind_filestore_in_production_blocks(make_spec):
    lab = make_spec(cluster_mode="lab", filestore=BindFilestore("/srv/acme"))
    results = preflight(make_spec(), live=render(lab).summary())
    r = _by_key(results, "live")["filestore_shared"]
    assert not r.ok and r.severity == "hard" and "lab only" in r.reason


def test_series_19_shares_sessions_in_session_db_and_warns_about_session_redis(make_spec):
    results = _by_key(preflight(make_spec(series="19.0")))
    assert results["session_store_series"].ok and results["sessions_shared"].ok
    assert "session_db" in results["sessions_shared"].reason
    results = _by_key(preflight(make_spec(series="19.0", session_store="session_redis")))
    assert not results["session_store_series"].ok and results["session_store_series"].severity == "soft"
    assert results["sessions_shared"].ok


def test_a_live_session_db_site_that_loads_another_store_fails(make_spec):
    spec = make_spec(series="19.0")

    def load_redis(services):  # type: ignore[no-untyped-def]
        svc = services["acme_odoo"]
        svc["args"] = [a.replace("session_db", "session_redis") for a in svc["args"]]

    failed = {r.key: r.reason for r in preflight(spec, live=_live(spec, load_redis)) if not r.ok}
    assert failed == {
        "sessions_shared": "acme_odoo does not load session_db server-wide "
        "(--load=base,rpc,web,session_redis)"
    }


def test_missing_traefik_network_is_soft(make_spec):
    results = preflight(make_spec(traefik=TraefikSpec(network=None)))
    r = _by_key(results)["traefik_network"]
    assert not r.ok and r.severity == "soft" and "acme_net" in r.reason
    assert _by_key(results)["traefik_labels"].ok  # the label then names the site network
    assert blocking(results) == []


def _live(spec, mutate):
    services = copy.deepcopy(render(spec).summary()["services"])
    mutate(services)
    return {"services": services}


def _drop_www(s):
    labels = s["acme_odoo"]["traefik"]["routers"]["acme"]
    labels["domains"] = ["shop.example.com"]


LIVE_BREAKAGES = {
    "db_pinned": lambda s: s["acme_db"].update(constraints=[]),
    "domains_in_rule": _drop_www,
    "sticky_cookie": lambda s: s["acme_odoo"]["traefik"].update(lbswarm=True),
    "update_safety": lambda s: s["acme_odoo"]["update_config"].update(order="stop-first"),
    "crons_single": lambda s: s["acme_cron"].update(replicas=2),
    "labels": lambda s: s["acme_redis"]["labels"].pop("panel.site"),
    "healthcheck": lambda s: s["acme_odoo"].update(healthcheck=None),
    "restart_policy": lambda s: s["acme_cron"].update(restart_condition="none"),
    "sessions_shared": lambda s: s["acme_odoo"]["env"].pop("ODOO_SESSION_REDIS"),
    "filestore_shared": lambda s: s["acme_odoo"].update(mounts=[]),
    "image_digest": lambda s: s["acme_odoo"].update(image_digest="sha256:" + "e" * 64),
    "websocket_route": lambda s: s["acme_odoo"]["traefik"]["routers"].pop("acme-ws"),
    "traefik_labels": lambda s: s["acme_odoo"]["traefik"]["network_labels"].update(
        {"traefik.docker.network": "traefik-public"}
    ),
}


@pytest.mark.parametrize("key", LIVE_BREAKAGES)
def test_live_breakage_is_reported(make_spec, key):
    spec = make_spec()
    results = preflight(spec, live=_live(spec, LIVE_BREAKAGES[key]))
    assert _by_key(results)[key].ok  # rendered stays green
    failed = [r.key for r in results if r.source == "live" and not r.ok]
    assert failed == [key]


def test_live_missing_service(make_spec):
    spec = make_spec()
    results = preflight(spec, live=_live(spec, lambda s: s.pop("acme_redis")))
    r = _by_key(results, "live")["sessions_shared"]
    assert not r.ok and r.reason == "service acme_redis is missing"


def test_lab_vip_is_caught(make_spec):
    spec = make_spec(cluster_mode="lab", filestore=BindFilestore("/srv/acme"))
    results = preflight(spec, live=_live(spec, lambda s: s["acme_odoo"].update(endpoint_mode="vip")))
    r = _by_key(results, "live")["endpoint_mode"]
    assert not r.ok and "IPVS" in r.reason


def test_live_fixture_passes_for_its_services(make_spec, load_fixture):
    from clusters.stack.drift import live_summary
    from tests.stack.conftest import NETWORK_IDS

    spec = make_spec()
    services = dict(render(spec).summary()["services"])
    for name in ("acme_odoo", "acme_db"):
        services[name] = live_summary(load_fixture(f"{name}.service.json"), network_names=NETWORK_IDS)
    assert [r.key for r in preflight(spec, live=services) if not r.ok] == []


def test_results_are_json_able(make_spec):
    import json

    assert json.loads(json.dumps([r.as_dict() for r in preflight(make_spec())]))[0]["key"] == "image_digest"


def test_one_row_per_check_with_both_results_and_hard_failures_first(make_spec):
    """The page's table: each item once, rendered and live side by side; hard failures on top, then
    advice not followed, then what passes, each group in the checklist's order."""
    spec = make_spec(domains=())
    rows = side_by_side(preflight(spec, live=_live(spec, lambda s: s.pop("acme_redis"))))
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)) == len(CHECKS) and len(rows) < len(
        preflight(spec, live=render(spec).summary())
    )
    groups = [0 if not row.ok and row.severity == "hard" else 1 if not row.ok else 2 for row in rows]
    assert groups == sorted(groups) and groups[0] == 0
    domains = next(row for row in rows if row.key == "domains_valid")
    assert domains.rendered and domains.live and not domains.ok and domains.failures
    series = next(row for row in rows if row.key == "session_store_series")
    assert series.rendered and series.live is None  # judged on the rendered stack only
    order = [key for key, *_ in CHECKS]
    for group in (0, 1, 2):
        inside = [row.key for row, g in zip(rows, groups, strict=True) if g == group]
        assert inside == sorted(inside, key=order.index)


def test_web_restarting_only_on_failure_is_caught(make_spec):
    # Odoo exits 0 on SIGTERM: a replica Swarm stops ends "complete" and on-failure never replaces it.
    spec = make_spec()
    results = preflight(
        spec, live=_live(spec, lambda s: s["acme_odoo"].update(restart_condition="on-failure"))
    )
    r = _by_key(results, "live")["restart_policy"]
    assert not r.ok and "Odoo exits 0 when Swarm stops it" in r.reason
