"""A live service that already is the rendered spec is left alone (clusters/stack/unchanged.py)."""

from clusters.stack.render import render
from clusters.stack.service_spec import engine_spec
from clusters.stack.unchanged import covers, unchanged
from tests.factories import site_spec as spec

IDS = {"acme_net": "n1d", "traefik-public": "t1d"}


def stored(wanted: dict) -> dict:  # type: ignore[type-arg]
    """What the engine stores for a spec docker-py sent: ids for network names, empties dropped,
    defaults added, zeros left out."""
    import json

    live = json.loads(json.dumps(wanted))
    template = live["TaskTemplate"]
    template["Networks"] = [{**n, "Target": IDS[n["Target"]]} for n in template.get("Networks") or []]
    template["ForceUpdate"] = 0
    live["Mode"] = {k.capitalize(): v for k, v in live["Mode"].items()}
    template["Runtime"] = "container"
    template["ContainerSpec"]["Isolation"] = "default"
    template.pop("Resources", None)
    for cfg in ("UpdateConfig", "RollbackConfig"):
        if cfg in live:
            live[cfg].pop("MaxFailureRatio", None)
    return live


def test_every_rendered_service_is_unchanged_against_what_the_engine_stores_for_it():  # type: ignore[no-untyped-def]
    for svc in render(spec()).services.values():
        wanted = engine_spec(svc)
        wanted["TaskTemplate"]["Resources"] = {}  # docker-py sends it empty; the engine may keep nothing
        assert unchanged(wanted, stored(engine_spec(svc)), IDS.__getitem__), svc.name


def test_a_real_change_is_seen():  # type: ignore[no-untyped-def]
    odoo = render(spec()).service("odoo")
    live = stored(engine_spec(odoo))
    for changed in (
        spec(image_digest="sha256:" + "b" * 64),
        spec(db_password="y"),  # a secret: compared in full, never as a redacted summary
        spec(domains=("shop.example.com", "www.example.com")),
        spec(workers=2),
    ):
        assert not unchanged(engine_spec(render(changed).service("odoo")), live, IDS.__getitem__)


def test_a_label_added_by_hand_or_a_map_entry_missing_is_a_change():  # type: ignore[no-untyped-def]
    odoo = render(spec()).service("odoo")
    live = stored(engine_spec(odoo))
    live["Labels"]["traefik.http.routers.evil.rule"] = "Host(`x`)"
    assert not unchanged(engine_spec(odoo), live, IDS.__getitem__)
    assert covers(None, 0) and covers(None, False) and not covers(None, 1) and covers({"a": 1}, {})
    assert not covers([1, 2], [1]) and not covers({"Labels": {"a": "1"}}, {"Labels": {"a": "2"}})
