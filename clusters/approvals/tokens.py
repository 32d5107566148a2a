"""API tokens: a random secret shown once, stored only as its sha256, revocable, expiring, audited.

A plain sha256 (not a slow password hash) is enough because the secret is 240 random bits, not a
human password; it also lets the lookup be one indexed equality. A token acts with its user's role at
the time of each request, narrowed by its scope and its site, so demoting or deactivating a user takes
effect on their tokens at once. Every token ends (at most a year out) so a forgotten one in a CI
variable stops working by itself. The API asks `identify` and `refusal` and nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.approvals.models import ApiToken
from panel.audit import record

PREFIX = "osp_"  # recognisable in logs and by secret scanners
SHOWN_CHARS = 12
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at granularity: no write per CI request
MAX_LIVE_TOKENS = 50  # per user
Scope = ApiToken.Scope
SCOPES = [Scope.CHECK, Scope.SUBMIT]  # each covers the ones before it


class Refused(Exception):
    """A token request refused: `status` 401 (no live token) or 403 (outside the token's scope or site)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def no_room(user: Any) -> str:
    """Why `user` may not make another token now ("" when they may). Expired tokens do not count."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())
    if live.count() >= MAX_LIVE_TOKENS:
        return f"You hold {MAX_LIVE_TOKENS} live tokens: revoke one first."
    return ""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def expiry(days: int | None = None, on: date | None = None) -> datetime:
    """When a new token ends: `days` from now, or at 00:00 (the panel's time zone) of the day `on`;
    by default in ApiToken.DEFAULT_DAYS days."""
    if on is not None:
        return timezone.make_aware(datetime.combine(on, time.min))
    return timezone.now() + timedelta(days=days or ApiToken.DEFAULT_DAYS)


def expiry_problem(expires_at: datetime) -> str:
    """Why a new token may not end then ("" when it may): in the past, or more than a year out."""
    now = timezone.now()
    last_day = timezone.localdate(now) + timedelta(days=ApiToken.MAX_DAYS)
    latest = max(now + timedelta(days=ApiToken.MAX_DAYS), expiry(on=last_day))
    if expires_at <= now:
        return "The expiry must be in the future."
    if expires_at > latest:
        return f"A token may live at most {ApiToken.MAX_DAYS} days (until {last_day:%Y-%m-%d})."
    return ""


def when(moment: datetime) -> str:
    """A time as the pages and the messages show it: in the panel's time zone, to the minute."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def create(
    user: Any,
    name: str,
    *,
    scope: str = Scope.CHECK,
    site: Any = None,
    expires_at: datetime | None = None,
    request: Any = None,
    actor: Any = None,
) -> tuple[ApiToken, str]:
    """A new token of `user` and its secret; the caller shows the secret once and never again.
    The narrowest scope and 90 days unless told. `actor`: who made it, when not the owner (the
    machine's operator, `manage.py token create --user`)."""
    expires_at = expires_at or expiry()
    if scope not in SCOPES:
        raise ValueError(f"scope: {scope!r} is not one of {', '.join(SCOPES)}")
    if problem := expiry_problem(expires_at):
        raise ValueError(f"expiry: {problem}")
    secret = PREFIX + secrets.token_urlsafe(30)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=secret[:SHOWN_CHARS],
            digest=digest(secret),
            scope=scope,
            site=site,
            expires_at=expires_at,
        )
        record(
            "api_token.create",
            request=request,
            actor=actor if actor is not None else user,
            target=token,
            site=site,
            after={"name": token.name, "prefix": token.prefix, "user": user.get_username(), **reach(token)},
        )
    return token, secret


def reach(token: ApiToken) -> dict[str, Any]:
    """What a token may do, as the audit log, `token list --json` and `token create --json` show it."""
    return {
        "scope": token.scope,
        "site": token.site.slug if token.site is not None else None,
        "expires_at": timezone.localtime(token.expires_at).isoformat(),
    }


def revoke(token: ApiToken, *, actor: Any, request: Any = None) -> bool:
    """Revoke once; False when it already was (nothing recorded twice)."""
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if done:
            record(
                "api_token.revoke",
                request=request,
                actor=actor,
                target=token,
                before={"name": token.name, "prefix": token.prefix, "user": token.user.get_username()},
            )
    return bool(done)


def identify(secret: str) -> ApiToken:
    """The live token for this secret, with its active user; Refused(401) for anything else, saying
    when an expired one ended (its owner knows which token to renew; a guesser learns nothing)."""
    token = None
    if secret.startswith(PREFIX) and len(secret) <= 200:
        token = (
            ApiToken.objects.select_related("user", "site")
            .filter(digest=digest(secret), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
    if token is None:
        raise Refused(401, "invalid or revoked token")
    now = timezone.now()
    if token.expires_at <= now:
        raise Refused(401, f"token expired on {when(token.expires_at)}: make a new one on the tokens page")
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def authenticate(secret: str) -> ApiToken | None:
    """`identify`, with None instead of the reason."""
    try:
        return identify(secret)
    except Refused:
        return None


def refusal(token: ApiToken, *, scope: str, site_slug: str | None = None) -> str:
    """Why `token` may not do what needs `scope` on the site `site_slug` ("" when it may). The role is
    checked apart, by panel.roles: a scope only ever narrows it."""
    if SCOPES.index(Scope(token.scope)) < SCOPES.index(Scope(scope)):
        return f"this token's scope is '{token.scope}': it may not {scope} (a '{scope}' token is needed)"
    if site_slug is not None and token.site is not None and token.site.slug != site_slug:
        return f"this token is bound to site {token.site.slug}"
    return ""
