"""Every value check refuses a trailing newline: a regex anchored with `$` and used with match()
accepts "abc\n", and a domain `shop\n.example.com` would reach a Traefik Host rule (issue 17)."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clusters import validators as v
from clusters.stack import SpecError, rules

GOOD = {
    v.validate_slug: "acme",
    v.validate_fqdn: "shop.example.com",
    v.validate_image: "registry.example.com/acme/odoo:19.0",
    v.validate_digest: "sha256:" + "a" * 64,
    v.validate_db_name: "acme",
    v.validate_hostname: "node-1",
    v.validate_cookie_name: "sticky",
    v.validate_absolute_path: "/srv/acme",
    v.validate_traefik_entrypoint: "websecure",
    v.validate_traefik_certresolver: "le",
    v.validate_traefik_network: "traefik-public",
    v.validate_nfs_options: "vers=4.1",
    v.validate_endpoint: "tcp://10.0.0.1:2376",
}


@pytest.mark.parametrize("check", list(GOOD), ids=lambda f: f.__name__)
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\x00"])
def test_each_validator_refuses_a_trailing_newline(check: Any, tail: str) -> None:
    check(GOOD[check])  # the good value passes
    with pytest.raises(ValidationError):
        check(GOOD[check] + tail)


@pytest.mark.parametrize("tail", ["\n", "\r\n"])
def test_the_renderers_rules_refuse_it_too(tail: str) -> None:
    assert rules.domain_problem("shop.example.com") is None
    assert rules.domain_problem("shop" + tail + ".example.com") is not None
    assert rules.domain_problem("shop.example.com" + tail) is not None
    assert rules.token_problem("sticky" + tail, "cookie") is not None
    assert rules.nfs_options_problem("vers=4.1" + tail) is not None
    patterns = [rules.SLUG_RE, rules.DIGEST_RE, rules.IMAGE_RE, rules.DB_NAME_RE, rules.HOSTNAME_RE]
    patterns += [rules.DNS_LABEL_RE, rules.TOKEN_RE, rules.MODULE_RE, rules.ENV_KEY_RE, rules.PG_USER_RE]
    for pattern in patterns:
        assert pattern.match("a" + tail) is None, pattern.pattern


@pytest.mark.parametrize("tail", ["\n", "\r\n"])
def test_lists_typed_by_hand_are_trimmed_and_refuse_it_inside(tail: str) -> None:
    # Module names and addons paths are trimmed item by item (a pasted list ends with a newline);
    # what is used is the trimmed value, and a control character inside an item is refused.
    assert rules.validate_modules(["sale" + tail]) == ("sale",)
    assert rules.split_addons_path("/mnt/a," + tail) == ("/mnt/a",)
    with pytest.raises(SpecError):
        rules.validate_modules(["sa" + tail + "le"])
    with pytest.raises(ValidationError):
        v.validate_addons_path("/mnt/extra" + tail + "-addons")
