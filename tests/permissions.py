"""The permission matrix helper: every URL the panel serves, for every role."""

from django.urls import URLPattern, URLResolver, get_resolver

# URLs that anonymous users must reach (and that declare no role).
PUBLIC = {"login", "logout", "healthz", "metrics"}
ROLE_RANK = {None: 0, "viewer": 1, "operator": 2, "approver": 3, "admin": 4}
ACTION_RANK = {"view": 1, "operate": 2, "approve": 3, "admin": 4}


def all_patterns(resolver: URLResolver | None = None, prefix: str = ""):  # type: ignore[no-untyped-def]
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from all_patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def required_action(pattern: URLPattern) -> str | None:
    callback = pattern.callback
    return getattr(callback, "required_action", None) or getattr(
        getattr(callback, "view_class", None), "required_action", None
    )


def allowed(role: str | None, action: str) -> bool:
    return ROLE_RANK[role] >= ACTION_RANK[action]
