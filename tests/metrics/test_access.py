"""Who may read /metrics: loopback and the allow-list by address, anyone with the bearer token."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from panel.metrics.access import address_allowed, parse_allow

pytestmark = pytest.mark.django_db

TOKEN = "t" * 40


def status(address: str, **headers: str) -> int:
    return Client(REMOTE_ADDR=address, headers=headers).get("/metrics").status_code


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_reads_without_login_or_token(address: str) -> None:
    assert status(address) == 200


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.1", "2001:db8::1", "unknown", ""])
def test_other_addresses_are_refused(address: str) -> None:
    assert status(address) == 403


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_bearer_token_opens_it_from_anywhere() -> None:
    assert status("10.0.0.5", Authorization=f"Bearer {TOKEN}") == 200
    assert status("10.0.0.5", Authorization=f"bearer {TOKEN}") == 200
    assert status("10.0.0.5", Authorization=f"Bearer {TOKEN}x") == 403
    assert status("10.0.0.5", Authorization=f"Basic {TOKEN}") == 403
    assert status("10.0.0.5", Authorization="Bearer ") == 403


def test_no_token_configured_means_no_token_accepted() -> None:
    assert status("10.0.0.5", Authorization="Bearer ") == 403
    assert status("10.0.0.5", Authorization="Bearer x") == 403


@override_settings(METRICS_ALLOW=parse_allow("10.0.0.0/24, 2001:db8::/32"))
def test_the_allow_list_replaces_the_default() -> None:
    assert status("10.0.0.5") == 200
    assert status("2001:db8::7") == 200
    assert status("10.0.1.5") == 403
    assert status("127.0.0.1") == 403


@override_settings(METRICS_TOKEN=TOKEN)
def test_a_proxied_request_needs_the_token_even_from_loopback() -> None:
    """Behind a reverse proxy on the same host every request comes from loopback."""
    assert status("127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}) == 403
    assert status("127.0.0.1", Forwarded="for=203.0.113.9") == 403
    assert status("127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}, Authorization=f"Bearer {TOKEN}") == 200


def test_only_get_and_no_session_cookie() -> None:
    client = Client()
    assert client.post("/metrics").status_code == 405
    response = client.get("/metrics")
    assert response.status_code == 200
    assert not response.cookies
    assert "no-cache" in response["Cache-Control"]


def test_parse_allow() -> None:
    networks = parse_allow("127.0.0.1/8,::1, 10.1.2.3")
    assert [str(n) for n in networks] == ["127.0.0.0/8", "::1/128", "10.1.2.3/32"]
    assert parse_allow("") == ()
    assert not address_allowed("127.0.0.1", ())
    with pytest.raises(ImproperlyConfigured, match=r"PANEL_METRICS_ALLOW: '10\.0\.0\.300' is not an IP"):
        parse_allow("127.0.0.1/8,10.0.0.300")
    with pytest.raises(ImproperlyConfigured, match="'localhost' is not an IP"):
        parse_allow("localhost")


def test_a_bad_allow_list_stops_the_panel_at_startup() -> None:
    env = {
        **os.environ,
        "PANEL_METRICS_ALLOW": "127.0.0.1/8,10.0.0.0/33",
        "DJANGO_SETTINGS_MODULE": "panel.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "ImproperlyConfigured: PANEL_METRICS_ALLOW: '10.0.0.0/33' is not an IP address or network"
        in done.stderr
    )
