"""A Content-Security-Policy on every HTML page: only the panel's own files run or style a page.

An injected `<script>`, `onclick=`, `style=` or `javascript:` link does nothing, and no string is
ever compiled into code (no 'unsafe-eval'): htmx runs with `allowEval: false` (templates/base.html),
polling pauses in a hidden tab through `data-poll-visible` (static/panel/panel.js) instead of an
hx-trigger filter, and every style lives in static/panel/panel.css. `img-src` also allows `data:`
URIs, which browsers and extensions use for small inline images; nothing else is loosened.
tests/security/test_csp.py keeps the templates free of what the policy would block.

X-Content-Type-Options and Referrer-Policy come from SecurityMiddleware (SECURE_CONTENT_TYPE_NOSNIFF,
SECURE_REFERRER_POLICY in panel/settings.py). With DEBUG on, Django's own 404 and 500 pages (inline
styles and scripts) are left without the header so that a developer can read them.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADER = "Content-Security-Policy"


def is_debug_page(response: HttpResponse) -> bool:
    return settings.DEBUG and response.status_code in (404, 500)


class ContentSecurityPolicyMiddleware:
    """Near the top of MIDDLEWARE, so that redirects and error pages get the header too; a response
    that already has one keeps it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and not is_debug_page(response):
            response.setdefault(HEADER, POLICY)
        return response
