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
from django.http import HttpResponse
from django.utils.html import format_html

from jobs.control import start
from jobs.locks import JobAlreadyRunning
from panel.htmx import HtmxHttpRequest, go


def start_and_show(
    request: HtmxHttpRequest,
    kind: str,
    *,
    site: Any = None,
    cluster: Any = None,
    params: dict[str, Any] | None = None,
    busy_url: str | None = None,
) -> HttpResponse:
    """Start a job as the request's user and go to its page. If the site is busy, say which job
    holds it (with a link) and go to `busy_url`, by default that job's page."""
    try:
        job = start(kind, site=site, cluster=cluster, params=params, request=request)
    except JobAlreadyRunning as exc:
        if exc.job is None:
            messages.warning(request, str(exc))
            return go(request, request.META.get("HTTP_REFERER") or "/")
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
        return go(request, busy_url or exc.job.get_absolute_url())
    messages.success(request, f"Started {job}.")
    return go(request, job.get_absolute_url())
