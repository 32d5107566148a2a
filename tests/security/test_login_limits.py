"""Login limits beyond one username+address pair (panel/auth.py, panel/login_limits.py), through the
real login page and the Redis cache: a guesser spread over many addresses meets a ceiling per
account, one address spraying many accounts meets a ceiling per address, and neither locks out a
user who signs in from where they did before. Cool-downs end by themselves, or at an admin's
`users unlock`, which is audited."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from panel import login_limits
from tests.audit.helpers import as_text, mark, since
from tests.personas import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-42"
REJECTED = "Please enter a correct username and password"
ACCOUNT_LOCKED = "Too many failed sign-ins for this account"
ADDRESS_LOCKED = "Too many failed sign-ins from your address"
PAIR_LOCKED = "Too many failed logins for this account from your address"
HOME = "192.0.2.10"  # where alice usually signs in from
PROXY = "192.0.2.99"  # an office proxy many people share


def login(username: str, password: str, address: str, **extra: str) -> tuple[str, bool]:
    """One attempt from a fresh browser at `address`: the page's text, and whether it signed in."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": password}, **extra)
    return response.content.decode(), "_auth_user_id" in client.session


def distributed_guess(username: str, count: int | None = None) -> None:
    """Wrong passwords from as many addresses, one each: far under the pair limit everywhere."""
    for n in range(settings.LOGIN_ACCOUNT_MAX_FAILURES if count is None else count):
        page, signed_in = login(username, WRONG, f"203.0.113.{n + 1}")
        assert REJECTED in page and not signed_in


def test_a_distributed_guesser_meets_the_account_ceiling(personas) -> None:  # type: ignore[no-untyped-def]
    start = mark()
    distributed_guess("alice")
    page, signed_in = login("alice", PASSWORD, "198.51.100.7")
    assert not signed_in and ACCOUNT_LOCKED in page and "ask an admin to unlock it" in page
    assert f"try again in {settings.LOGIN_ACCOUNT_LOCK_SECONDS // 60} minutes" in page
    page, _ = login("ALICE", WRONG, "198.51.100.8")  # a wrong guess is told the same: no oracle
    assert ACCOUNT_LOCKED in page
    assert login("bob", PASSWORD, "198.51.100.7")[1]  # other accounts are untouched
    events = since(start)
    assert [e.action for e in events] == ["auth.login_failed"] * settings.LOGIN_ACCOUNT_MAX_FAILURES + [
        "auth.lockout",
        "auth.login",
    ]
    lockout = events[-2]
    assert (lockout.target_type, lockout.target_name) == ("user", "alice")
    assert lockout.actor_username == "anonymous"
    assert f"{settings.LOGIN_ACCOUNT_MAX_FAILURES} failed logins for this account" in lockout.detail
    assert not any(secret in as_text(e) for e in events for secret in (PASSWORD, WRONG))


def test_the_right_password_from_a_known_address_gets_through_the_cool_down(personas) -> None:  # type: ignore[no-untyped-def]
    assert login("alice", PASSWORD, HOME)[1]
    distributed_guess("alice")
    assert not login("alice", PASSWORD, "198.51.100.7")[1]
    assert login("alice", PASSWORD, HOME)[1]
    page, signed_in = login("alice", WRONG, HOME)  # but guessing from there is still a failure
    assert REJECTED in page and not signed_in


def test_the_account_cool_down_ends(personas, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    distributed_guess("alice")
    assert ACCOUNT_LOCKED in login("alice", PASSWORD, "198.51.100.7")[0]
    started = login_limits.now()
    monkeypatch.setattr(login_limits, "now", lambda: started + settings.LOGIN_ACCOUNT_LOCK_SECONDS - 290)
    assert "try again in 5 minutes" in login("alice", PASSWORD, "198.51.100.7")[0]
    monkeypatch.setattr(login_limits, "now", lambda: started + settings.LOGIN_ACCOUNT_LOCK_SECONDS + 1)
    assert login("alice", PASSWORD, "198.51.100.7")[1]


def test_an_admin_unlocks_the_account_and_it_is_audited(personas) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.LOGIN_MAX_FAILURES):  # her own address is pair-locked too
        login("alice", WRONG, HOME)
    distributed_guess("alice", settings.LOGIN_ACCOUNT_MAX_FAILURES - settings.LOGIN_MAX_FAILURES)
    assert ACCOUNT_LOCKED in login("alice", PASSWORD, "198.51.100.7")[0]
    assert PAIR_LOCKED in login("alice", PASSWORD, HOME)[0]
    start = mark()
    out = io.StringIO()
    call_command("users", "unlock", "alice", stdout=out)
    assert "cool-down ended" in out.getvalue()
    assert login("alice", PASSWORD, "198.51.100.7")[1]
    assert login("alice", PASSWORD, HOME)[1]
    unlocked = since(start)[0]
    assert (unlocked.action, unlocked.target_name) == ("user.unlock", "alice")
    assert unlocked.actor_username.startswith("cli:") and "cool-down ended" in unlocked.detail
    with pytest.raises(CommandError) as refused:
        call_command("users", "unlock", "nobody", stdout=io.StringIO())
    assert refused.value.returncode == 2


def test_one_address_spraying_many_accounts_is_refused_but_not_the_colleagues_who_signed_in(  # type: ignore[no-untyped-def]
    personas, monkeypatch
) -> None:
    assert login("carol", PASSWORD, PROXY)[1]  # carol works behind the proxy
    start = mark()
    for n in range(settings.LOGIN_ADDRESS_MAX_FAILURES):
        page, _ = login(f"ghost{n}", WRONG, PROXY)
        assert REJECTED in page
    page, signed_in = login("bob", PASSWORD, PROXY)  # never signed in from here: refused
    assert not signed_in and ADDRESS_LOCKED in page
    assert ADDRESS_LOCKED in login("ghost-next", WRONG, PROXY)[0]
    assert login("carol", PASSWORD, PROXY)[1]
    assert login("bob", PASSWORD, "198.51.100.1")[1]  # bob from elsewhere is fine
    lockouts = [e for e in since(start) if e.action == "auth.lockout"]
    assert [(e.target_type, e.target_name) for e in lockouts] == [("address", PROXY)]
    started = login_limits.now()
    monkeypatch.setattr(login_limits, "now", lambda: started + settings.LOGIN_ADDRESS_LOCK_SECONDS + 1)
    assert login("dave", PASSWORD, PROXY)[1]


def test_the_pair_limit_still_holds_and_a_login_clears_only_its_own_count(personas) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login("bob", WRONG, "192.0.2.40")
    assert PAIR_LOCKED in login("bob", PASSWORD, "192.0.2.40")[0]
    assert login("bob", PASSWORD, "192.0.2.41")[1]

    almost = settings.LOGIN_MAX_FAILURES - 1
    for _ in range(2):  # a login in between resets the pair's count, so no pair lock here
        for _ in range(almost):
            login("alice", WRONG, HOME)
        assert login("alice", PASSWORD, HOME)[1]
    # ... but those failures still count towards the account's ceiling
    distributed_guess("alice", settings.LOGIN_ACCOUNT_MAX_FAILURES - 2 * almost)
    assert ACCOUNT_LOCKED in login("alice", PASSWORD, "198.51.100.7")[0]


def test_a_forwarded_for_header_is_not_trusted(personas) -> None:  # type: ignore[no-untyped-def]
    """Each guess claims another client in X-Forwarded-For; the panel counts REMOTE_ADDR."""
    for n in range(settings.LOGIN_MAX_FAILURES):
        login("bob", WRONG, "192.0.2.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}")
    page, _ = login("bob", PASSWORD, "192.0.2.50", HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert PAIR_LOCKED in page
