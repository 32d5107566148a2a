"""The review page and its exports: read by every role ("viewers read"), changed by nobody."""

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_safe

from panel.audit import actions
from panel.audit.export import FORMATS, astream, stream
from panel.audit.query import Filters, page
from panel.audit.store import record
from panel.htmx import HtmxHttpRequest
from panel.models import AuditEvent
from panel.names import suggested
from panel.roles import requires


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass
class Change:
    field: str
    before: str | None
    after: str | None


def diff(event: AuditEvent) -> list[Change]:
    """One line per field in before or after; a missing side (create, delete) stays None."""
    before, after = event.before or {}, event.after or {}
    keys = list(before) + [k for k in after if k not in before]
    return [
        Change(
            k,
            _shown(before[k]) if event.before is not None and k in before else None,
            _shown(after[k]) if event.after is not None and k in after else None,
        )
        for k in keys
    ]


def job_links(events: list[AuditEvent]) -> dict[int, dict[str, str]]:
    """job id -> its page and its log, if the jobs pages exist (left out, not broken, otherwise).

    The log is the log section of the job's page, not `job-log` (the bare fragment htmx polls) nor
    the download (which is itself an audited read). Built by reverse(), as Job.get_absolute_url does,
    so a page of events costs no query per job."""
    links: dict[int, dict[str, str]] = {}
    for event in events:
        if event.job_id is not None and event.job_id not in links:
            found = {}
            with contextlib.suppress(NoReverseMatch):
                page = reverse("job-detail", args=[event.job_id])
                found = {"page": page, "log": page + "#job-log"}
            links[event.job_id] = found
    return links


def _site_url(slug: str) -> str | None:
    """The site's page; recorded slugs come from callers, and one that is not a valid slug gets no link."""
    if not slug:
        return None
    try:
        return reverse("site-detail", args=[slug])
    except NoReverseMatch:
        return None


def _suggestions() -> dict[str, Any]:
    return {
        "action_names": actions.GROUPS + actions.KNOWN,
        "usernames": get_user_model().objects.order_by("username").values_list("username", flat=True)[:500],
        "cluster_names": suggested("clusters"),
    }


@requires("view")
@require_safe
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = Filters.parse(request.GET)
    events = AuditEvent.objects.none() if filters.errors else filters.apply(AuditEvent.objects.all())
    current = page(events, before=request.GET.get("before"), after=request.GET.get("after"))
    links = job_links(current.events)
    rows = [
        {
            "event": e,
            "changes": diff(e),
            "job": links.get(e.job_id or 0, {}),
            "site_url": _site_url(e.site_slug),
        }
        for e in current.events
    ]
    paged = bool(request.GET.get("before") or request.GET.get("after"))
    context = {"filters": filters, "page": current, "rows": rows, "paged": paged}
    if request.htmx and not request.htmx.boosted:
        return render(request, "audit/partials/event_table.html", context)
    return render(request, "audit/audit_list.html", {**context, **_suggestions()})


def _export(request: HtmxHttpRequest, fmt: str) -> HttpResponseBase:
    filters = Filters.parse(request.GET)
    if filters.errors:
        return HttpResponse("; ".join(filters.errors), status=400, content_type="text/plain")
    # Reading the whole log out is itself worth a line in it.
    record("audit.export", request=request, detail=f"{fmt}: {filters.describe()}")
    content = astream(filters, fmt) if isinstance(request, ASGIRequest) else stream(filters, fmt)
    response = StreamingHttpResponse(content, content_type=FORMATS[fmt])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@requires("view")
@require_GET
def export_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    return _export(request, "csv")


@requires("view")
@require_GET
def export_json(request: HtmxHttpRequest) -> HttpResponseBase:
    return _export(request, "json")
