"""Every page needs a login; htmx fragments and full pages are cached apart; every request has an id."""

from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from panel.audit import context
from panel.htmx import go


class LoginRequiredMiddleware(_DjangoLoginRequired):
    """Django's own, plus: an htmx request whose session expired reloads the whole page to the
    login form instead of swapping a login form into a table cell."""

    def handle_no_permission(self, request: HttpRequest, view_func: Callable) -> HttpResponse:  # type: ignore[override]
        response = super().handle_no_permission(request, view_func)
        return go(request, response["Location"]) if getattr(request, "htmx", False) else response


class VaryOnHtmxMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response


class RequestIdMiddleware:
    """Give every request an id, keep it for the audit log, and send it back as X-Request-ID.

    A sane X-Request-ID from the proxy in front is honoured, so one id follows a click through the
    proxy's log, the panel's audit events and the jobs it started; anything else is replaced. The
    request is bound (a ContextVar) for code that records events without being handed it. First in
    MIDDLEWARE so that even a redirect or an error page carries the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        with context.bound(request):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
