"""Logins, failed logins and logouts, from Django's own auth signals, so that every way in (the
login page today, an API token or SSO later) is audited without each path remembering to.

Connected by panel.apps.PanelConfig.ready(). Lockouts are recorded by panel/auth.py; the failure
counters and cool-downs live in panel/login_limits.py.
"""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from panel.audit import triggers
from panel.audit.mask import text
from panel.audit.store import record
from panel.audit.target import Target


@receiver(user_logged_in, dispatch_uid="panel.audit.login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record("auth.login", request=request, actor=user, target=user)


@receiver(user_logged_out, dispatch_uid="panel.audit.logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:  # logging out of no session changes nothing
        record("auth.logout", request=request, actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="panel.audit.login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Only the name that was tried: Django has already starred the password, and it is not kept
    # anyway. The actor is anonymous (whoever typed it is not that user); the name is the target.
    attempted = text(credentials.get("username", ""), 150)
    record(
        "auth.login_failed",
        request=request,
        actor="anonymous",
        target=Target(type="user", name=attempted),
        detail="wrong username or password, or the account is inactive",
    )


@receiver(post_migrate, dispatch_uid="panel.audit.triggers")
def _ensure_triggers(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    if getattr(sender, "label", None) == "panel":
        triggers.install(connections[using])
