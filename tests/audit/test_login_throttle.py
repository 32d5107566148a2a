"""Brute-force protection and its audit trail: the lockout is recorded once, and a POST without a
password cannot reset the failure counter between guesses."""

import pytest
from django.urls import reverse

from tests.audit.helpers import mark, since
from tests.personas import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, password):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": "alice", "password": password}).content.decode()


def test_empty_password_does_not_reset_the_counter(client, personas):  # type: ignore[no-untyped-def]
    for _ in range(4):
        attempt(client, "wrong")
        attempt(client, "")  # before the fix this cleared the count: endless guessing
    attempt(client, "wrong")
    assert "Too many failed logins" in attempt(client, PASSWORD)


def test_lockout_recorded_once_and_locked_attempts_write_nothing(client, personas):  # type: ignore[no-untyped-def]
    start = mark()
    for _ in range(5):
        attempt(client, "wrong")
    for _ in range(3):
        assert "Too many failed logins" in attempt(client, PASSWORD)
    actions = [e.action for e in since(start)]
    assert actions == ["auth.login_failed"] * 5 + ["auth.lockout"]
