"""How soon a started replica can take traffic: Swarm reports it running (and Traefik routes it) only after
its first passing healthcheck, so the start is checked every few seconds on any engine."""

from __future__ import annotations

import pytest

from clusters.sites.site_spec import engine_version_at_least
from clusters.stack.service_parts import health_timing, odoo_healthcheck
from clusters.stack.summary import _healthcheck

S = 1_000_000_000


def test_engine_with_start_interval_keeps_the_interval_and_checks_the_start_often(make_spec):
    spec = make_spec(engine_start_interval=True)
    assert health_timing(spec) == (30, 3, 2)
    check = odoo_healthcheck(spec)
    assert check["Interval"] == 30 * S and check["StartInterval"] == 2 * S
    assert _healthcheck(check)["start_interval_ns"] == 2 * S  # drift compares what the engine keeps


def test_older_engine_checks_every_start_interval_with_the_same_tolerance(make_spec):
    """Docker 20.10 (Debian 12's) drops StartInterval: the shipped 30 s interval would keep users on the
    maintenance page for 30 s after every start, so the interval itself is the start interval, and a
    running Odoo is still declared unhealthy only after 90 s of failed checks."""
    spec = make_spec(engine_start_interval=False)
    interval, retries, start = health_timing(spec)
    assert (interval, start) == (2, None) and interval * retries >= 30 * 3
    check = odoo_healthcheck(spec)
    assert "StartInterval" not in check and check["Interval"] == 2 * S and check["Retries"] == 45
    assert _healthcheck(check)["start_interval_ns"] == 0


def test_a_short_interval_is_left_as_it_is(make_spec):
    old = {"engine_start_interval": False}
    assert health_timing(make_spec(health_interval_s=2, health_retries=3, **old)) == (2, 3, None)
    assert health_timing(make_spec(health_interval_s=1, health_retries=5, **old)) == (1, 5, None)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("20.10.24+dfsg1", False),
        ("24.0.7", False),
        ("25.0.0", True),
        ("28.2.2", True),
        ("26.1.5-ce", True),
        ("", False),
        ("unknown", False),
    ],
)
def test_engine_version(version, expected):
    assert engine_version_at_least(version, (25, 0)) is expected
