"""API tokens: a random secret shown once, stored only as its sha256, revocable, audited.

A plain sha256 (not a slow password hash) is enough because the secret is 240 random bits, not a
human password; it also lets the lookup be one indexed equality. A token acts with its user's role at
the time of each request, so demoting or deactivating a user takes effect on their tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.approvals.models import ApiToken
from panel.audit import record

PREFIX = "osp_"  # recognisable in logs and by secret scanners
SHOWN_CHARS = 12
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at granularity: no write per CI request
MAX_LIVE_TOKENS = 50  # per user


def no_room(user: Any) -> str:
    """Why `user` may not make another token now ("" when they may)."""
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_LIVE_TOKENS:
        return f"You hold {MAX_LIVE_TOKENS} live tokens: revoke one first."
    return ""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user: Any, name: str, *, request: Any = None, actor: Any = None) -> tuple[ApiToken, str]:
    """A new token of `user` and its secret; the caller shows the secret once and never again.
    `actor`: who made it, when not the owner (the machine's operator, `manage.py token create --user`)."""
    secret = PREFIX + secrets.token_urlsafe(30)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=secret[:SHOWN_CHARS], digest=digest(secret)
        )
        record(
            "api_token.create",
            request=request,
            actor=actor if actor is not None else user,
            target=token,
            after={"name": token.name, "prefix": token.prefix, "user": user.get_username()},
        )
    return token, secret


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


def authenticate(secret: str) -> ApiToken | None:
    """The live token for this secret, with its active user; None for anything else."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
