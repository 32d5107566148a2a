"""The button behind "Deploy", "Update modules", ...: start a job and show it, or say who holds the site.

    @requires("operate")
    @require_POST
    def site_deploy(request, slug):
        site = get_object_or_404(Site, slug=slug)
        return start_and_show(request, "deploy", site=site, params={"image": site.image})

A second click (from anyone, in any browser) does not start a second job: the database refuses it
(jobs/locks.py) and the user lands on the job that holds the site, with a message saying so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.html import format_html

from jobs.control import start
from jobs.locks import JobAlreadyRunning
from panel.htmx import HtmxHttpRequest


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def start_and_show(
    request: HtmxHttpRequest,
    kind: str,
    *,
    site: Any = None,
    cluster: Any = None,
    params: dict[str, Any] | None = None,
) -> HttpResponse:
    """Start a job as the request's user and go to its page; if the site is busy, go to that job."""
    try:
        job = start(kind, site=site, cluster=cluster, params=params, request=request)
    except JobAlreadyRunning as exc:
        if exc.job is None:
            messages.warning(request, str(exc))
            return _go(request, request.META.get("HTTP_REFERER") or "/")
        messages.warning(
            request,
            format_html(
                'Not started: <a href="{}">{}</a> is already {} on {}{}. Follow it, or cancel it first.',
                exc.job.get_absolute_url(),
                str(exc.job),
                exc.job.get_state_display().lower(),
                str(site),
                f" (started by {exc.job.created_by_name})" if exc.job.created_by_name else "",
            ),
        )
        return _go(request, exc.job.get_absolute_url())
    messages.success(request, f"Started {job}.")
    return _go(request, job.get_absolute_url())
