"""SiteSpec validation: every value ends up in a service name, a constraint, a rule or a command line."""

from __future__ import annotations

import pytest

from clusters.stack.spec import (
    BindFilestore,
    NfsFilestore,
    SpecError,
    TraefikSpec,
    ns,
    pinned_ref,
    split_image,
    validate_modules,
)


def test_defaults_and_normalisation(make_spec):
    spec = make_spec(domains=["Shop.Example.com.", "shop.example.com", "www.example.com"])
    assert spec.domains == ("shop.example.com", "www.example.com")
    assert spec.cluster_mode == "production" and spec.series == "17.0" and spec.max_cron_threads == 2
    assert spec.data_dir == "/var/lib/odoo" and spec.traefik.version == "v3"
    assert spec.traefik.entrypoint == "websecure" and spec.traefik.sticky_cookie == "odoo_sticky"
    assert spec.network_name == "acme_net" and spec.service_name("odoo") == "acme_odoo"


def test_password_not_in_repr(make_spec):
    assert "s3cret" not in repr(make_spec())


def test_server_wide_modules_always_include_the_session_store_of_the_series(make_spec):
    assert make_spec().server_wide == ("base", "web", "session_redis")
    assert make_spec(server_wide_modules=["queue_job", "session_redis"]).server_wide == (
        "base",
        "web",
        "queue_job",
        "session_redis",
    )
    # 19 loads rpc by default; --load without it would drop XML/JSON-RPC. session_redis has no 19
    # release (the 18.0 module answers 500 to every request on 19): 19 shares sessions in session_db.
    assert make_spec(series="19.0").server_wide == ("base", "rpc", "web", "session_db")
    assert make_spec(series="17.0", session_store="session_db").server_wide == ("base", "web", "session_db")
    # A 19 image that carries a session_redis port of its own may still choose it.
    assert make_spec(series="19.0", session_store="session_redis").sessions == "session_redis"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"slug": "Acme"}, "slug"),
        ({"slug": "acme_shop"}, "slug"),
        ({"slug": "a" * 31}, "slug"),
        ({"cluster_mode": "staging"}, "cluster_mode"),
        ({"image": "odoo@sha256:" + "a" * 64}, "image"),
        ({"image_digest": "sha256:123"}, "digest"),
        ({"db_name": "acme; drop"}, "database name"),
        ({"db_node": "db1,node.role==worker"}, "db node"),
        ({"db_user": "postgres"}, "postgres"),
        ({"db_password": ""}, "password"),
        ({"domains": ["*.example.com"]}, "wildcard"),
        ({"domains": ["localhost"]}, "fully qualified"),
        ({"domains": ["shop.example.com`) || Host(`evil.com"]}, "domain"),
        ({"series": "15.0"}, "series"),
        ({"replicas": -1}, "negative"),
        ({"max_cron_threads": 0}, "cron"),
        ({"addons_path": ["relative/path"]}, "addons path"),
        ({"extra_env": {"HOST": "elsewhere"}}, "HOST"),
        ({"extra_env": {"BAD KEY": "x"}}, "environment key"),
        ({"extra_args": ["--workers=9"]}, "extra Odoo option"),
        ({"extra_args": ["-x"]}, "extra Odoo option"),
        ({"server_wide_modules": ["web;rm"]}, "server-wide"),
        ({"health_start_period_s": 0}, "durations"),
    ],
)
def test_invalid_specs_are_refused(make_spec, overrides, message):
    with pytest.raises(SpecError, match=message):
        make_spec(**overrides)


def test_filestore_and_traefik_validation():
    with pytest.raises(SpecError):
        NfsFilestore("10.0.0.10", "exports")
    with pytest.raises(SpecError):
        NfsFilestore("10.0.0.10", "/e", options="addr=1.2.3.4")
    with pytest.raises(SpecError):
        BindFilestore("/srv/../etc")
    with pytest.raises(SpecError):
        TraefikSpec(version="v1")  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        TraefikSpec(entrypoint="web secure")
    assert NfsFilestore("nfs.lan", "/x", "rw").volume_options == {
        "type": "nfs",
        "o": "addr=nfs.lan,rw",
        "device": ":/x",
    }
    # Real NFS options that only contain "addr=" in their name are fine.
    options = "rw,clientaddr=10.0.0.5,mountaddr=10.0.0.10"
    assert NfsFilestore("nfs.lan", "/x", options).volume_options["o"] == f"addr=nfs.lan,{options}"


def test_module_names():
    assert validate_modules(["sale", " stock ", "sale"]) == ("sale", "stock")
    for bad in (["all"], ["base"], ["Sale"], ["sale,stock"], ["a;b"], ["../x"], [], [""]):
        with pytest.raises(SpecError):
            validate_modules(bad)


def test_image_helpers():
    assert split_image("127.0.0.1:5000/odoo:17.0") == ("127.0.0.1:5000/odoo", "17.0")
    assert split_image("127.0.0.1:5000/odoo") == ("127.0.0.1:5000/odoo", None)
    assert (
        pinned_ref("127.0.0.1:5000/odoo:17.0", "sha256:" + "c" * 64)
        == "127.0.0.1:5000/odoo@sha256:" + "c" * 64
    )
    assert pinned_ref("odoo:17.0", None) == "odoo:17.0"
    assert ns(1.5) == 1_500_000_000 and isinstance(ns(30), int)
