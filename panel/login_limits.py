"""The counters and cool-downs behind the login throttle, kept in the cache (Redis); panel/auth.py
decides from them what a login attempt is told.

Three counts of failed logins, each in a fixed window that starts at its first failure:
- per username+address pair: LOGIN_MAX_FAILURES within LOGIN_LOCK_SECONDS lock that pair while the
  window lasts. It applies to everyone, known address or not: it is what bounds guessing from an
  address the account signs in from.
- per account, from every address together: LOGIN_ACCOUNT_MAX_FAILURES within
  LOGIN_ACCOUNT_LOCK_SECONDS start a cool-down of LOGIN_ACCOUNT_LOCK_SECONDS for that username. A
  guesser spread over many addresses, each under the pair limit, stops here.
- per address, over every username: LOGIN_ADDRESS_MAX_FAILURES within LOGIN_ADDRESS_LOCK_SECONDS
  start a cool-down of LOGIN_ADDRESS_LOCK_SECONDS for that address. One address spraying many
  accounts stops here; the ceiling is higher because a proxy or office NAT is many people.

A "known" pair is a username that signed in from that address within LOGIN_KNOWN_ADDRESS_DAYS; the
account and address cool-downs do not apply to it (panel/auth.py says why). Cool-downs store the
time they end, so they are bounded whatever the cache does, and `manage.py users unlock NAME` ends
an account's at once.

Keys are keyed hashes of the username and address (HMAC with SECRET_KEY), so the cache holds no
name or address in clear, and a known pair cannot be found by hashing every IPv4 address.
"""

import json
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from panel import audit

DAY = 86400


def now() -> float:
    """The clock cool-downs are read with (a test moves it instead of sleeping 15 minutes)."""
    return time.time()


def _digest(*parts: str) -> str:
    return salted_hmac("panel.login_limits", json.dumps(parts), algorithm="sha256").hexdigest()[:32]


def _user(username: str) -> str:
    return username.lower()


def _count(key: str, window: int) -> int:
    """One more failure; the window starts at the first one (Redis INCR keeps the expiry)."""
    for _ in range(3):
        if cache.add(key, 1, timeout=window):
            return 1
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add() and incr(): start a new window
            continue
    return 1


def _start_cool_down(key: str, seconds: int) -> bool:
    """Start a cool-down unless one runs; True if this call started it, so it is audited once."""
    until = now() + seconds
    if cache.add(key, until, timeout=seconds + 1):
        return True
    if _remaining(key) == 0:  # ended by the clock, its key not yet expired
        cache.set(key, until, timeout=seconds + 1)
        return True
    return False


def _remaining(key: str) -> int:
    until = cache.get(key)
    return max(0, math.ceil(float(until) - now())) if until else 0


# Per username+address pair. Its key includes the account's epoch, which an unlock moves on: that
# forgets the pair counts of every address at once (the cache cannot list them).
def _epoch(username: str) -> str:
    return str(cache.get(f"login-epoch:{_digest(_user(username))}", 0))


def _pair_key(username: str, address: str) -> str:
    return f"login-failures:{_digest(_user(username), address, _epoch(username))}"


def pair_failures(username: str, address: str) -> int:
    return int(cache.get(_pair_key(username, address), 0))


def count_pair_failure(username: str, address: str) -> int:
    """Count one failure; returns the count, so the caller sees the one that locks."""
    return _count(_pair_key(username, address), settings.LOGIN_LOCK_SECONDS)


def clear_pair(username: str, address: str) -> None:
    cache.delete(_pair_key(username, address))


# Per account, from every address.
def _account_keys(username: str) -> tuple[str, str]:
    digest = _digest(_user(username))
    return f"login-account-failures:{digest}", f"login-account-lock:{digest}"


def account_locked_for(username: str) -> int:
    """Seconds left of the account's cool-down, 0 if none runs."""
    return _remaining(_account_keys(username)[1])


def _count_toward_ceiling(keys: tuple[str, str], ceiling: int, lock_seconds: int) -> bool:
    """Count one failure under (failures key, cool-down key); True if it reaches `ceiling` and starts
    the cool-down (the count starts again after)."""
    failures, lock = keys
    if _count(failures, lock_seconds) < ceiling:
        return False
    cache.delete(failures)
    return _start_cool_down(lock, lock_seconds)


def count_account_failure(username: str) -> bool:
    """Count one failure; True if it starts the account's cool-down."""
    return _count_toward_ceiling(
        _account_keys(username), settings.LOGIN_ACCOUNT_MAX_FAILURES, settings.LOGIN_ACCOUNT_LOCK_SECONDS
    )


# Per address, over every username.
def _address_keys(address: str) -> tuple[str, str]:
    digest = _digest("address", address)
    return f"login-address-failures:{digest}", f"login-address-lock:{digest}"


def address_locked_for(address: str) -> int:
    return _remaining(_address_keys(address)[1])


def count_address_failure(address: str) -> bool:
    """Count one failure; True if it starts the address's cool-down."""
    return _count_toward_ceiling(
        _address_keys(address), settings.LOGIN_ADDRESS_MAX_FAILURES, settings.LOGIN_ADDRESS_LOCK_SECONDS
    )


# Known pairs: this username signed in from this address recently.
def _known_key(username: str, address: str) -> str:
    return f"login-known:{_digest('known', _user(username), address)}"


def remember(username: str, address: str) -> None:
    cache.set(_known_key(username, address), 1, timeout=settings.LOGIN_KNOWN_ADDRESS_DAYS * DAY)


def is_known(username: str, address: str) -> bool:
    return cache.get(_known_key(username, address)) is not None


def unlock(user: Any, *, request: Any = None, actor: Any = None) -> bool:
    """End the account's cool-down and forget its failure counts, the pair counts from every address
    included: an admin letting a locked-out user back in. Address cool-downs stay (they are about
    the address, not the user). Audited whether or not a cool-down ran; True if one did."""
    username = user.get_username()
    failures, lock = _account_keys(username)
    was_locked = _remaining(lock) > 0
    cache.delete_many([failures, lock])
    cache.set(f"login-epoch:{_digest(_user(username))}", time.time_ns(), timeout=None)
    audit.record(
        "user.unlock",
        request=request,
        actor=actor,
        target=user,
        detail="sign-in cool-down ended and failure counts cleared"
        if was_locked
        else "no cool-down was running; failure counts cleared",
    )
    return was_locked
