"""Create users, change roles, deactivate and reactivate: audited, and never leaving the panel
without an active admin.

Shared by the users page and `manage.py users`, so the rules hold whichever way a change comes in.
Users are never deleted here: deactivating keeps their name on their jobs and audit events, and
a deactivated user's sessions stop working at their next request (Django refuses inactive users).
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import Q

from panel import audit
from panel.roles import ROLES, assign_role


class LastAdminError(ValueError):
    """The change would leave no active admin: nobody could manage users or clusters any more."""


def role_from_groups(group_names: list[str], is_superuser: bool = False) -> str | None:
    """The role shown for a user, from their groups (assign_role keeps exactly one role group).

    For lists, where asking roles.role_of per user would cost a permission query per row."""
    if is_superuser:
        return "admin"
    held = [ROLES.index(name) for name in group_names if name in ROLES]
    return ROLES[max(held)] if held else None


def _lock(user: Any) -> tuple[Any, list[Any]]:
    """(the user as stored now, the other active admins), locked until the transaction ends, so
    that two admins demoting each other at the same moment cannot both succeed. Admins are locked
    first and in key order, whoever asks, so two such transactions cannot deadlock."""
    User = get_user_model()
    admins = User.objects.filter(is_active=True).filter(Q(groups__name="admin") | Q(is_superuser=True))
    locked = list(User.objects.select_for_update().filter(pk__in=admins.values("pk")).order_by("pk"))
    fresh = User.objects.select_for_update().get(pk=user.pk)
    return fresh, [admin for admin in locked if admin.pk != user.pk]


def _guard_last_admin(user: Any, other_admins: list[Any], losing_admin: bool) -> None:
    if losing_admin and not other_admins:
        raise LastAdminError(
            f"{user.get_username()} is the last active admin; make someone else an admin first."
        )


def current_role(user: Any) -> str | None:
    return role_from_groups(list(user.groups.values_list("name", flat=True)), user.is_superuser)


def create_user(username: str, password: str, role: str, *, request: Any = None, actor: Any = None) -> Any:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, password=password)
        assign_role(user, role)
        audit.record(
            "user.create",
            request=request,
            actor=actor,
            target=user,
            after={"username": user.get_username(), "role": role, "is_active": True},
        )
    return user


def change_role(user: AbstractUser, role: str, *, request: Any = None, actor: Any = None) -> bool:
    """Give `user` exactly `role`; False (and no event) if they already have it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    with transaction.atomic():
        fresh, other_admins = _lock(user)
        old = current_role(fresh)
        if old == role and not fresh.is_superuser:
            return False
        _guard_last_admin(fresh, other_admins, fresh.is_active and old == "admin" and role != "admin")
        assign_role(fresh, role)
        was_superuser = fresh.is_superuser
        if was_superuser:
            # A superuser holds every permission whatever their groups: the new role would not bite.
            fresh.is_superuser = user.is_superuser = False
            fresh.save(update_fields=["is_superuser"])
        audit.record(
            "user.role",
            request=request,
            actor=actor,
            target=fresh,
            before={"role": old, **({"is_superuser": True} if was_superuser else {})},
            after={"role": role, **({"is_superuser": False} if was_superuser else {})},
        )
    return True


def set_active(user: AbstractUser, active: bool, *, request: Any = None, actor: Any = None) -> bool:
    """Deactivate or reactivate; False (and no event) if nothing changes."""
    with transaction.atomic():
        fresh, other_admins = _lock(user)
        if fresh.is_active == active:
            return False
        _guard_last_admin(fresh, other_admins, not active and current_role(fresh) == "admin")
        fresh.is_active = user.is_active = active
        fresh.save(update_fields=["is_active"])
        audit.record(
            "user.reactivate" if active else "user.deactivate",
            request=request,
            actor=actor,
            target=fresh,
            before={"is_active": not active},
            after={"is_active": active},
        )
    return True
