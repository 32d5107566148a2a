"""`{{ user|shown_role }}` for lists: the role from prefetched groups, without a query per row."""

from typing import Any

from django import template

from panel.users.service import role_from_groups

register = template.Library()


@register.filter
def shown_role(user: Any) -> str:
    return role_from_groups([g.name for g in user.groups.all()], user.is_superuser) or "no role"
