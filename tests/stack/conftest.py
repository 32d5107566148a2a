"""Fixtures for the engine-free stack tests: a reference site spec and hand-written engine JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clusters.stack.spec import NfsFilestore, SiteSpec, TraefikSpec

FIXTURES = Path(__file__).parent / "fixtures"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
# Network ids in the hand-written fixtures (the engine stores ids, not names).
NETWORK_IDS = {"q8h2c6mbr4xwz3k0v5n1d7e9a": "acme_net", "t1ra3f1kpub1icn3tw0rk00xx": "traefik-public"}


def acme(**overrides: Any) -> SiteSpec:
    """The site the fixtures describe: production, NFS, Traefik v3, 2 replicas with 2 workers, 2 domains,
    an Odoo 17.0 image (sessions in session_redis), on engines that honour a healthcheck's StartInterval."""
    base: dict[str, Any] = {
        "slug": "acme",
        "image": "registry.example.com/odoo:17.0",
        "series": "17.0",
        "image_digest": DIGEST_A,
        "db_name": "acme",
        "db_node": "db1",
        "db_password": "s3cret",
        "redis_password": "r3dis-pass-0123456789",
        "filestore": NfsFilestore("10.0.0.10", "/exports/acme"),
        "domains": ("shop.example.com", "www.example.com"),
        "workers": 2,
        "traefik": TraefikSpec(certresolver="le", network="traefik-public"),
        "engine_start_interval": True,
    }
    base.update(overrides)
    return SiteSpec(**base)


@pytest.fixture
def make_spec() -> Callable[..., SiteSpec]:
    return acme


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    return load
