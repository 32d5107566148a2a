"""Drift: live Service.attrs parsed into the rendered summary form, and each kind of drift named for ops."""

from __future__ import annotations

import copy
import json

import docker
import pytest
from docker.models.services import ServiceCollection

from clusters.stack.drift import diff, live_stack_summary, live_summary, task_digests
from clusters.stack.render import render, render_update_task, to_create_kwargs
from clusters.stack.spec import BindFilestore, TraefikSpec
from clusters.stack.summary import REDACTED
from tests.stack.conftest import NETWORK_IDS

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
S = 1_000_000_000


@pytest.fixture
def odoo_attrs(load_fixture):
    return load_fixture("acme_odoo.service.json")


@pytest.fixture
def db_attrs(load_fixture):
    return load_fixture("acme_db.service.json")


def _expected(spec, *names):
    services = render(spec).summary()["services"]
    return {"services": {n: services[n] for n in names}}


def test_live_summary_parses_engine_json(odoo_attrs, load_fixture):
    live = live_summary(odoo_attrs, tasks=load_fixture("acme_odoo.tasks.json"), network_names=NETWORK_IDS)
    assert live["id"] == "9mnpnzenvg8p8tdbtq4wvbkcz" and live["name"] == "acme_odoo"
    assert (live["mode"], live["replicas"]) == ("replicated", 2)
    assert live["image_digest"] == A
    assert live["env"]["ODOO_SESSION_REDIS_PASSWORD"] == REDACTED
    assert live["env"]["ODOO_SESSION_REDIS_HOST"] == "acme_redis"
    assert live["networks"] == ["acme_net", "traefik-public"]
    assert live["constraints"] == []
    assert live["update_config"]["order"] == "start-first" and live["update_config"]["monitor_ns"] == 60 * S
    assert live["healthcheck"]["start_period_ns"] == 180 * S
    assert live["mounts"][0]["driver_options"]["type"] == "nfs"
    assert live["endpoint_mode"] == "vip" and live["restart_condition"] == "any"
    assert live["traefik"]["routers"]["acme"]["domains"] == ["shop.example.com", "www.example.com"]
    assert live["traefik"]["services"]["acme"]["port"] == 8069
    assert live["task_digests"] == {"0kzzo1i0y4jz6027t0k7aezc7": A, "1yljwbmlr8er2waf8orvqpwms": A}
    assert json.loads(json.dumps(live)) == live
    assert live_summary(odoo_attrs)["networks"] is None  # ids only: not compared


def test_hand_written_fixtures_match_the_rendered_spec(make_spec, odoo_attrs, db_attrs, load_fixture):
    live = live_stack_summary(
        [odoo_attrs, db_attrs], {"acme_odoo": load_fixture("acme_odoo.tasks.json")}, NETWORK_IDS
    )
    assert diff(_expected(make_spec(), "acme_odoo", "acme_db"), live) == []


def test_task_digests_keeps_running_tasks_only(load_fixture):
    tasks = load_fixture("acme_odoo.tasks.json")
    assert task_digests(tasks) == {"0kzzo1i0y4jz6027t0k7aezc7": A, "1yljwbmlr8er2waf8orvqpwms": A}
    tasks[2].update(DesiredState="running", Status={"State": "running"})
    assert task_digests(tasks)["3ht8d1qfw7vrx0h4ktzm5c2ys"] == B


def _one(drifts):
    assert len(drifts) == 1, [d.message for d in drifts]
    return drifts[0]


def test_domain_removed_from_rule(make_spec, odoo_attrs):
    labels = odoo_attrs["Spec"]["Labels"]
    labels["traefik.http.routers.acme.rule"] = "Host(`www.example.com`)"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert (d.kind, d.expected, d.actual) == ("domain_missing", "shop.example.com", None)
    assert d.message == "domain shop.example.com is missing from the router rule of acme_odoo"


def test_unexpected_domain(make_spec, odoo_attrs):
    odoo_attrs["Spec"]["Labels"]["traefik.http.routers.acme.rule"] += " || Host(`old.example.com`)"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert d.kind == "domain_unexpected" and "old.example.com" in d.message


def test_same_domains_in_other_syntax_is_a_label_change(make_spec, odoo_attrs):
    odoo_attrs["Spec"]["Labels"]["traefik.http.routers.acme.rule"] = (
        "Host(`shop.example.com`,`www.example.com`)"
    )
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert d.kind == "label_changed"


def test_router_removed(make_spec, odoo_attrs):
    labels = odoo_attrs["Spec"]["Labels"]
    for k in [k for k in labels if ".routers.acme." in k]:
        del labels[k]
    kinds = {
        d.kind for d in diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)})
    }
    assert kinds == {"router_missing", "label_missing"}


def test_constraint_removed(make_spec, db_attrs):
    db_attrs["Spec"]["TaskTemplate"]["Placement"].pop("Constraints")
    d = _one(diff(_expected(make_spec(), "acme_db"), {"acme_db": live_summary(db_attrs)}))
    assert (d.kind, d.expected) == ("constraint_missing", "node.hostname==db1")
    assert d.message == "constraint node.hostname==db1 was removed from acme_db"


def test_replicas_left_at_zero(make_spec, odoo_attrs):
    odoo_attrs["Spec"]["Mode"]["Replicated"]["Replicas"] = 0
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert (d.kind, d.expected, d.actual) == ("replicas", 2, 0)
    assert d.message == "acme_odoo has 0 replicas, expected 2"


def test_tasks_running_different_digests(make_spec, odoo_attrs, load_fixture):
    tasks = load_fixture("acme_odoo.tasks.json")
    tasks[1]["Spec"]["ContainerSpec"]["Image"] = f"registry.example.com/odoo:17.0@{B}"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs, tasks)}))
    assert d.kind == "task_digests" and d.actual == {A: 1, B: 1}
    assert d.message.startswith(
        "tasks of acme_odoo run 2 different digests: sha256:aaaaaaaaaaaa (1 task), "
        "sha256:bbbbbbbbbbbb (1 task)"
    )


def test_all_tasks_on_an_old_digest(make_spec, odoo_attrs, load_fixture):
    tasks = load_fixture("acme_odoo.tasks.json")
    for t in tasks:
        t["Spec"]["ContainerSpec"]["Image"] = f"registry.example.com/odoo@{B}"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs, tasks)}))
    assert (
        d.message == "tasks of acme_odoo run another digest: sha256:bbbbbbbbbbbb (2 tasks); "
        "expected sha256:aaaaaaaaaaaa"
    )


def test_service_image_changed(make_spec, odoo_attrs):
    odoo_attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "registry.example.com/odoo:17.0"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert d.kind == "image" and "registry.example.com/odoo:17.0" in d.message


def test_labels_missing(make_spec, odoo_attrs):
    del odoo_attrs["Spec"]["Labels"]["panel.site"]
    del odoo_attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Labels"]["panel.role"]
    drifts = diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)})
    assert [(d.kind, d.message) for d in drifts] == [
        ("label_missing", "label panel.site is missing from acme_odoo"),
        ("container_label_missing", "container label panel.role is missing from acme_odoo"),
    ]


def test_lbswarm_added_is_unexpected(make_spec, odoo_attrs):
    odoo_attrs["Spec"]["Labels"]["traefik.swarm.lbswarm"] = "true"
    d = _one(diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}))
    assert (
        d.kind == "label_unexpected"
        and d.message == "acme_odoo has an unexpected label traefik.swarm.lbswarm=true"
    )


def test_service_missing_and_leftover_task(make_spec, odoo_attrs):
    spec = make_spec()
    leftover = json.loads(json.dumps(to_create_kwargs(render_update_task(spec, ["sale"]))))
    live = {"acme_odoo": live_summary(odoo_attrs), "acme_update": {"labels": leftover["labels"]}}
    drifts = diff(_expected(spec, "acme_odoo", "acme_redis"), live)
    assert [(d.service, d.kind, d.message) for d in drifts] == [
        ("acme_redis", "service_missing", "service acme_redis is missing"),
        (
            "acme_update",
            "service_unexpected",
            "service acme_update is labelled as managed by the panel but is not "
            "part of the site (a leftover one-off task?)",
        ),
    ]


def test_settings_drift(make_spec, odoo_attrs):
    spec_json = odoo_attrs["Spec"]
    spec_json["UpdateConfig"]["Order"] = "stop-first"
    spec_json["TaskTemplate"]["ContainerSpec"].pop("Healthcheck")
    spec_json["TaskTemplate"]["ContainerSpec"]["Env"].remove("ODOO_SESSION_REDIS=1")
    spec_json["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["VolumeOptions"]["DriverConfig"]["Options"][
        "o"
    ] = "addr=x"
    spec_json["TaskTemplate"]["Networks"].pop()
    drifts = diff(
        _expected(make_spec(), "acme_odoo"),
        {"acme_odoo": live_summary(odoo_attrs, network_names=NETWORK_IDS)},
    )
    kinds = {d.kind: d.message for d in drifts}
    assert set(kinds) == {"update_config", "healthcheck", "env_missing", "mount_changed", "network_missing"}
    assert kinds["env_missing"] == "environment variable ODOO_SESSION_REDIS is missing from acme_odoo"
    assert kinds["network_missing"] == "acme_odoo is not attached to network traefik-public"
    assert "order=stop-first" in kinds["update_config"]


def test_secrets_are_not_compared_or_shown(make_spec, odoo_attrs):
    env = odoo_attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    key = "ODOO_SESSION_REDIS_PASSWORD"
    env[env.index(f"{key}=r3dis-pass-0123456789")] = f"{key}=changed"
    assert diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}) == []
    assert "r3dis-pass" not in json.dumps(render(make_spec()).summary())


SPECS = {
    "prod": {},
    "lab": {
        "cluster_mode": "lab",
        "filestore": BindFilestore("/srv/acme"),
        "workers": 0,
        "traefik": TraefikSpec(version="v2", tls=False, entrypoint="web", network="proxy"),
    },
}


def _as_engine_stores(body: dict, ids: dict[str, str]) -> dict:
    """What the engine answers for a created service: network names resolved to ids, mode key capitalised,
    zero values omitted."""
    spec = json.loads(json.dumps(body))
    task = spec["TaskTemplate"]
    task["Networks"] = [{"Target": ids[n["Target"]]} for n in task.get("Networks", [])]
    spec["Mode"] = {"Replicated": spec["Mode"]["replicated"]}
    task["RestartPolicy"] = {k: v for k, v in task["RestartPolicy"].items() if v}
    for cfg in ("UpdateConfig", "RollbackConfig"):
        spec[cfg] = {k: v for k, v in spec[cfg].items() if v}
    return {"ID": "x" + spec["Name"], "Spec": {k: v for k, v in spec.items() if v is not None}}


@pytest.mark.parametrize("overrides", SPECS.values(), ids=SPECS.keys())
def test_round_trip_through_docker_py_has_no_drift(make_spec, monkeypatch, overrides):
    """Render -> docker-py `services.create` body -> engine-shaped attrs -> live summary
    == rendered summary."""
    client = docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41")
    posted: list[dict] = []
    monkeypatch.setattr(client.api, "_post_json", lambda url, data, **kw: posted.append(data))
    monkeypatch.setattr(client.api, "_result", lambda resp, json=False: {"ID": "svc"})
    monkeypatch.setattr(ServiceCollection, "get", lambda self, sid, **kw: sid)
    stack = render(make_spec(**overrides))
    for svc in stack.services.values():
        client.services.create(**to_create_kwargs(svc))
    ids = {"acme_net": "n1", "traefik-public": "n2", "proxy": "n3"}
    live = live_stack_summary(
        [_as_engine_stores(b, ids) for b in posted], network_names={v: k for k, v in ids.items()}
    )
    assert diff(stack.summary(), live) == []
    broken = copy.deepcopy(live)
    broken["services"]["acme_db"]["constraints"] = []
    assert [d.kind for d in diff(stack.summary(), broken)] == ["constraint_missing"]


def test_unpinned_image_tag_change_and_cli_style_pinned_ref(make_spec, db_attrs, odoo_attrs):
    db_attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "postgres:15"
    d = _one(diff(_expected(make_spec(), "acme_db"), {"acme_db": live_summary(db_attrs)}))
    assert d.kind == "image" and d.message == "acme_db is set to image postgres:15, expected postgres:16"
    # `docker service update --image` writes repo:tag@digest: same digest, no drift.
    odoo_attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = f"registry.example.com/odoo:17.0@{A}"
    assert diff(_expected(make_spec(), "acme_odoo"), {"acme_odoo": live_summary(odoo_attrs)}) == []
