"""`{% audit_alert %}`: the red banner admins see while the last scheduled `audit verify` failed."""

from typing import Any

from django import template

from panel.audit import watch
from panel.roles import can

register = template.Library()


@register.inclusion_tag("audit/partials/verify_alert.html", takes_context=True)
def audit_alert(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    report = watch.alert() if can(user, "admin") else None
    return {"report": report}
