"""Login with brute-force protection: a limit per username+address pair, a ceiling per account over
every address, and one per address over every username (counters in panel/login_limits.py).

The pair limit stops a loop guessing one account's password from one machine. The account ceiling
stops the same guessing spread over many addresses: past it, that account's password logins are
refused for a bounded cool-down even with the right password, so a guess that comes right tells the
guesser nothing. The address ceiling stops one address trying a few passwords on every account.

Both ceilings let through a username that has signed in from the same address recently (a "known"
pair, stored as a keyed hash). Deliberately so: an attacker who can trip the account ceiling from
anywhere would otherwise lock the real user out for as long as they keep at it, and one sprayer
behind an office NAT or a proxy would lock out every colleague behind it. A guesser does not
share the user's usual address; one that does still meets the pair limit, which applies to all.

The address is the one the panel trusts, REMOTE_ADDR (panel/audit/context.py); X-Forwarded-For is
not read. Each cool-down is audited once, when it starts ("auth.lockout", never the password);
attempts refused during one write nothing, so a flood of them cannot flood the audit log.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator

from panel import audit, login_limits
from panel.audit.context import client_address


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def refusal(username: str, address: str) -> str:
    """Why this attempt is refused before its password is checked, or "" if it is not."""
    if login_limits.pair_failures(username, address) >= settings.LOGIN_MAX_FAILURES:
        return (
            "Too many failed logins for this account from your address. "
            f"Try again in {_minutes(settings.LOGIN_LOCK_SECONDS)}."
        )
    account = login_limits.account_locked_for(username)
    address_wait = login_limits.address_locked_for(address)
    if not (account or address_wait) or login_limits.is_known(username, address):
        return ""
    if account:
        return (
            f"Too many failed sign-ins for this account; try again in {_minutes(account)}, "
            "or ask an admin to unlock it."
        )
    return f"Too many failed sign-ins from your address; try again in {_minutes(address_wait)}."


def count_failure(request: object, username: str, address: str) -> None:
    """Count a failed login in all three limits, and record each cool-down it starts."""
    if login_limits.count_pair_failure(username, address) == settings.LOGIN_MAX_FAILURES:
        _lockout(
            request,
            audit.Target(type="user", name=username),
            f"{settings.LOGIN_MAX_FAILURES} failed logins from {address}; "
            f"locked for {settings.LOGIN_LOCK_SECONDS} s",
        )
    if login_limits.count_account_failure(username):
        _lockout(
            request,
            audit.Target(type="user", name=username),
            f"{settings.LOGIN_ACCOUNT_MAX_FAILURES} failed logins for this account from any address "
            f"(the last from {address}); password logins refused for "
            f"{settings.LOGIN_ACCOUNT_LOCK_SECONDS} s except from addresses it signed in from",
        )
    if login_limits.count_address_failure(address):
        _lockout(
            request,
            audit.Target(type="address", name=address),
            f"{settings.LOGIN_ADDRESS_MAX_FAILURES} failed logins from {address} (the last as "
            f"{username!r}); refused for {settings.LOGIN_ADDRESS_LOCK_SECONDS} s except for "
            "users who signed in from it",
        )


def _lockout(request: object, target: audit.Target, detail: str) -> None:
    audit.record("auth.lockout", request=request, actor="anonymous", target=target, detail=detail)


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):  # type: ignore[no-untyped-def]
        username = self.data.get("username", "")[:150]
        address = client_address(self.request) if self.request else "unknown"
        refused = refusal(username, address)
        if refused:
            raise ValidationError(refused, code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            count_failure(self.request, username, address)
            raise
        # Only a real login clears the pair's count: a POST without a password passes clean()
        # without authenticating, and must not reset the counter between guesses. The account's
        # count (failures from other addresses) is left as it is.
        if self.user_cache is not None:
            login_limits.clear_pair(username, address)
            login_limits.remember(username, address)
        return cleaned


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
