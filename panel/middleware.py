"""Every page needs a login; htmx fragments and full pages are cached apart."""

from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class LoginRequiredMiddleware(_DjangoLoginRequired):
    """Django's own, plus: an htmx request whose session expired reloads the whole page to the
    login form instead of swapping a login form into a table cell."""

    def handle_no_permission(self, request: HttpRequest, view_func: Callable) -> HttpResponse:  # type: ignore[override]
        response = super().handle_no_permission(request, view_func)
        if getattr(request, "htmx", False):
            redirect = HttpResponse(status=204)
            redirect["HX-Redirect"] = response["Location"]
            return redirect
        return response


class VaryOnHtmxMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response
