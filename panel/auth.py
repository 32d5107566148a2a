"""Login with brute-force protection: a username+address pair is locked after repeated failures.

Counting per pair (not per address only) keeps one noisy office NAT from locking everybody out,
while a password-guessing loop against one account stops after LOGIN_MAX_FAILURES tries.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator

from panel import audit
from panel.audit.context import client_address


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.lower()}|{address}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def is_locked(username: str, address: str) -> bool:
    return int(cache.get(_key(username, address), 0)) >= settings.LOGIN_MAX_FAILURES


def record_failure(username: str, address: str) -> int:
    """Count one failure; returns the count, so the caller sees the one that locks."""
    key = _key(username, address)
    if cache.add(key, 1, timeout=settings.LOGIN_LOCK_SECONDS):
        return 1
    return int(cache.incr(key))


def clear_failures(username: str, address: str) -> None:
    cache.delete(_key(username, address))


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):  # type: ignore[no-untyped-def]
        username = self.data.get("username", "")[:150]
        address = client_address(self.request) if self.request else "unknown"
        if is_locked(username, address):
            minutes = max(1, settings.LOGIN_LOCK_SECONDS // 60)
            raise ValidationError(
                f"Too many failed logins for this account from your address. Try again in {minutes} minutes.",
                code="locked",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if record_failure(username, address) == settings.LOGIN_MAX_FAILURES:
                audit.record(
                    "auth.lockout",
                    request=self.request,
                    actor="anonymous",
                    target=audit.Target(type="user", name=username),
                    detail=f"{settings.LOGIN_MAX_FAILURES} failed logins from {address}; "
                    f"locked for {settings.LOGIN_LOCK_SECONDS} s",
                )
            raise
        # Only a real login clears the count: a POST without a password passes clean() without
        # authenticating, and must not reset the counter between guesses.
        if self.user_cache is not None:
            clear_failures(username, address)
        return cleaned


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
