"""Roles and what each may do: the one place where access is decided.

Four roles, each a Django group holding the permissions of the ones below it:
viewer (reads everything), operator (+ deploys, scales, updates, submits changes),
approver (+ approves the changes of others), admin (+ clusters, credentials, users).
Views declare the action they need with @requires; templates ask `can.operate` etc.
"""

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

ROLES = ["viewer", "operator", "approver", "admin"]

# action -> the permission that grants it
ACTIONS: dict[str, str] = {
    "view": "view_panel",
    "operate": "operate_sites",
    "approve": "approve_changes",
    "admin": "administer",
}
# role -> the actions it grants (each role includes the ones before it)
ROLE_ACTIONS: dict[str, list[str]] = {role: list(ACTIONS)[: index + 1] for index, role in enumerate(ROLES)}

AnyUser = AbstractBaseUser | AnonymousUser
F = TypeVar("F", bound=Callable[..., Any])


def can(user: Any, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.has_perm(f"panel.{ACTIONS[action]}"))


def role_of(user: Any) -> str | None:
    """The highest role a user holds, for display and for the audit log."""
    held = [action for action in ACTIONS if can(user, action)]
    return ROLES[len(held) - 1] if held else None


def require(user: Any, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied(f"your role does not allow this ({action} is needed)")


def requires(action: str) -> Callable[[F], F]:
    """View decorator, for sync and async views alike; the permission matrix test reads
    `required_action` from every view."""

    def decorate(view: F) -> F:
        if inspect.iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                # The user is loaded without blocking the event loop (SSE views run under ASGI).
                user = await request.auser()
                await sync_to_async(require)(user, action)
                return await view(request, *args, **kwargs)

            async_wrapper.required_action = action  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            require(request.user, action)
            return view(request, *args, **kwargs)

        wrapper.required_action = action  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


class _Can:
    def __init__(self, user: Any) -> None:
        self.user = user

    def __getattr__(self, action: str) -> bool:
        return can(self.user, action)


def context_processor(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"can": _Can(user), "role": role_of(user) if user else None}


def ensure_role_groups() -> None:
    """Create or repair the four groups and their permissions (runs after every migrate)."""
    perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="panel")}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [perms[ACTIONS[action]] for action in ROLE_ACTIONS[role] if ACTIONS[action] in perms]
        group.permissions.set(wanted)


def assign_role(user: Any, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
