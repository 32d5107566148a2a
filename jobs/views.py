"""Pages for jobs: the list with filters, a job with its timeline and log, and the log's partials.

The job page shows only the tail of the log (a million lines would freeze a browser); earlier
chunks load on demand by seq. Live lines arrive by server-sent events (jobs/logs/sse.py), or by polling
`job_log?after=<seq>` where SSE cannot pass (it answers 286, htmx's "stop polling", at the end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST
from django_htmx.http import HTMX_STOP_POLLING

from jobs.control import cancel
from jobs.logs import read as logread
from jobs.models import Job, Kind, State
from jobs.timeline import timeline
from panel import audit
from panel.htmx import HtmxHttpRequest, go
from panel.listing import list_page
from panel.names import suggested
from panel.roles import requires

FILTERS = ("site", "kind", "state", "user", "since", "until")


def filtered_jobs(params: Any) -> tuple[QuerySet[Job], dict[str, str]]:
    """Jobs narrowed by the list's filters; unknown values are ignored rather than erroring."""
    qs = Job.objects.select_related("site")
    chosen = {name: params.get(name, "").strip()[:100] for name in FILTERS}
    if chosen["site"]:
        qs = qs.filter(site_slug=chosen["site"])
    if chosen["kind"]:
        qs = qs.filter(kind=chosen["kind"])
    if chosen["state"] in State.values:
        qs = qs.filter(state=chosen["state"])
    if chosen["user"]:
        qs = qs.filter(created_by_name=chosen["user"])
    since, until = _date(chosen["since"]), _date(chosen["until"])
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    return qs, {k: v for k, v in chosen.items() if v}


def _date(value: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


@requires("view")
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    jobs, chosen = filtered_jobs(request.GET)
    return list_page(
        request,
        jobs,
        search_fields=["site_slug", "kind", "created_by_name", "error"],
        template="jobs/job_list.html",
        partial="jobs/partials/job_table.html",
        context={
            "filters": chosen,
            "extra_query": "&" + urlencode(chosen) if chosen else "",
            "kinds": Kind.choices,
            "states": State.choices,
            "sites": suggested("sites"),
        },
    )


@requires("view")
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("site", "cluster", "created_by"), pk=job_id)
    context = {"job": job, "steps": timeline(job)}
    if request.htmx and request.htmx.target == "job-summary":
        context["ended_now"] = not job.is_active
        return render(
            request,
            "jobs/partials/job_summary.html",
            context,
            status=200 if job.is_active else HTMX_STOP_POLLING,
        )
    lines = logread.stored_before(job.pk, None)
    context.update(
        lines=lines,
        first_seq=lines[0].seq if lines else 0,
        last_seq=lines[-1].seq if lines else 0,
        live=request.GET.get("live", "sse"),
    )
    return render(request, "jobs/job_detail.html", context)


@requires("view")
def job_log(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """`?before=<seq>`: the chunk before it ("load earlier"). `?after=<seq>`: what came after (polling)."""
    try:
        before = logread.cursor_param(request.GET.get("before"), "before")
        after = logread.cursor_param(request.GET.get("after"), "after") or 0
    except logread.BadCursor as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    job = get_object_or_404(Job.objects.only("id", "finished_at"), pk=job_id)
    if before is not None:
        lines = logread.stored_before(job.pk, before)
        return render(request, "jobs/partials/log_earlier.html", {"job": job, "lines": lines})
    finished = job.finished_at is not None  # read before the lines: nothing can follow them then
    lines = logread.stored_after(job.pk, after)
    stop = finished and len(lines) < logread.CHUNK
    context = {"job": job, "lines": lines, "after": lines[-1].seq if lines else after, "stop": stop}
    return render(request, "jobs/partials/log_poll.html", context, status=HTMX_STOP_POLLING if stop else 200)


@requires("view")
def job_log_download(request: HtmxHttpRequest, job_id: int) -> StreamingHttpResponse:
    """The whole log as a file. A log can hold what a job printed about a site (paths, module names,
    errors), and taking a copy out of the panel is a sensitive read: it is recorded, like an export."""
    job = get_object_or_404(Job.objects.select_related("site__cluster", "cluster"), pk=job_id)
    name = f"job-{job.pk}-{job.kind}{'-' + job.site_slug if job.site_slug else ''}.log"
    audit.record("job.log_download", request=request, target=job, job=job, detail=name)
    # Under ASGI a sync iterator would be read whole into memory first; give each server its kind.
    content = _text_async(job.pk) if isinstance(request, ASGIRequest) else _text(job.pk)
    response = StreamingHttpResponse(content, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _format(line: logread.LogLine) -> bytes:
    marker = "" if line.stream == "stdout" else f"[{line.stream}] "
    return f"{line.time.isoformat(timespec='milliseconds')} {marker}{line.text}\n".encode()


def _text(job_id: int) -> Iterator[bytes]:
    after = 0
    while lines := logread.stored_after(job_id, after):
        yield b"".join(_format(x) for x in lines)
        after = lines[-1].seq


async def _text_async(job_id: int) -> AsyncIterator[bytes]:
    from jobs.logs.sse import db

    after = 0
    while lines := await db(logread.stored_after, job_id, after):
        yield b"".join(_format(x) for x in lines)
        after = lines[-1].seq


@requires("operate")
@require_POST
def job_cancel(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("site", "cluster"), pk=job_id)
    outcome = cancel(job, request=request)
    text = {
        "cancelled": f"Cancelled {job} before it started.",
        "requested": f"Cancel requested: {job} stops at its next step and undoes what it changed.",
        "": f"{job} has already ended (or a cancel was already requested).",
    }[outcome]
    (messages.success if outcome else messages.info)(request, text)
    return go(request, job.get_absolute_url())
