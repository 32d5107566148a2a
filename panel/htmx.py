"""htmx in the panel's views: the request type django-htmx's middleware gives every view, and the
one way a view sends the browser to another page."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def go(request: HttpRequest, url: str) -> HttpResponse:
    """To `url`: a redirect, or for an htmx request HX-Redirect (a full page load instead of a
    page swapped into the element that asked). 204: there is nothing to swap meanwhile."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url, status=204)
    return HttpResponseRedirect(url)
