"""Pages of manifest changes: the list, one change with its verdict and decisions, submitting, deciding.

Decisions follow the site's buttons: a GET shows what will happen (the confirmation), the POST with
confirm=yes does it. The buttons shown come from services.allowed_decisions, and the services refuse
the same things again, so a hand-made POST gets the same answer as a missing button.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from clusters.approvals import services
from clusters.approvals.display import addon_rows
from clusters.approvals.forms import FolderForm, ReasonForm, UploadForm
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.workflow import WorkflowError
from clusters.approvals.intake import Evaluation, ModulesNotRead, evaluate_archive, evaluate_folder
from clusters.approvals.models import ChangeSource, ChangeState, Decision, ManifestChange
from clusters.models import Site
from panel.htmx import HtmxHttpRequest
from panel.listing import list_page
from panel.roles import requires
from panel.uploads import accepts_upload

MAX_ROWS = 500
NOT_READ = 409  # the site's modules were never read: the request is fine, the site is not ready


def filtered_changes(params: Any) -> tuple[QuerySet[ManifestChange], dict[str, str]]:
    # The verdict and manifests can weigh hundreds of KB each: a list never loads them.
    qs = ManifestChange.objects.select_related("site").defer("verdict", "manifests")
    chosen = {name: params.get(name, "").strip()[:100] for name in ("site", "state")}
    if chosen["site"]:
        qs = qs.filter(site__slug=chosen["site"])
    if chosen["state"] in ChangeState.values:
        qs = qs.filter(state=chosen["state"])
    return qs, {k: v for k, v in chosen.items() if v}


@requires("view")
def change_list(request: HtmxHttpRequest) -> HttpResponse:
    changes, chosen = filtered_changes(request.GET)
    site = Site.objects.filter(slug=chosen["site"]).first() if "site" in chosen else None
    return list_page(
        request,
        changes,
        search_fields=["site__slug", "title", "submitted_by_name", "source_name"],
        template="changes/change_list.html",
        partial="changes/partials/change_table.html",
        context={
            "filters": chosen,
            "extra_query": "&" + urlencode(chosen) if chosen else "",
            "states": ChangeState.choices,
            "sites": Site.objects.order_by("slug").values_list("slug", flat=True)[:500],
            "site": site,
        },
    )


def _change(change_id: int) -> ManifestChange:
    decisions = Prefetch("decisions", queryset=Decision.objects.order_by("created_at", "id"))
    return get_object_or_404(
        ManifestChange.objects.select_related("site", "site__cluster").prefetch_related(decisions),
        pk=change_id,
    )


@requires("view")
def change_detail(request: HtmxHttpRequest, change_id: int) -> HttpResponse:
    change = _change(change_id)
    context = {
        "change": change,
        "site": change.site,
        "verdict": change.verdict,
        "allowed": services.allowed_decisions(change, request.user),
    }
    return render(request, "changes/change_detail.html", {**context, **_rows(change.verdict)})


def _rows(verdict: dict[str, Any]) -> dict[str, Any]:
    """The addon table, capped: a whole repository can hold thousands; blocked ones come first."""
    rows = addon_rows(verdict)
    return {"rows": rows[:MAX_ROWS], "rows_hidden": max(0, len(rows) - MAX_ROWS), "addons_total": len(rows)}


def _submit(
    request: HtmxHttpRequest, site: Site, form: UploadForm | FolderForm, source: ChangeSource
) -> HttpResponse:
    """Shared by the upload and folder pages: check only, or check and store."""
    context: dict[str, Any] = {"site": site, "form": form, "source": source}
    if site.modules_read_at is None:
        context["not_read"] = str(ModulesNotRead(site))
        return render(
            request,
            "changes/change_submit.html",
            context,
            status=NOT_READ if request.method == "POST" else 200,
        )
    if request.method != "POST" or not form.is_valid():
        return render(
            request, "changes/change_submit.html", context, status=400 if request.method == "POST" else 200
        )
    try:
        evaluation = _evaluate(site, form, source)
    except GateError as exc:
        context["gate_error"] = exc
        return render(request, "changes/change_submit.html", context, status=400)
    if request.POST.get("action") == "check":
        context.update(checked=evaluation.verdict, **_rows(evaluation.verdict))
        return render(request, "changes/change_submit.html", context)
    change = services.submit(
        site, evaluation, user=request.user, source=source, title=form.cleaned_data["title"], request=request
    )
    if change.state == ChangeState.BLOCKED:
        messages.error(
            request, f"Submitted {change}: BLOCKED, {change.blocked_count} addon(s) would break the site."
        )
    else:
        messages.success(request, f"Submitted {change}: it passes and waits for an approver.")
    return redirect(change.get_absolute_url())


def _evaluate(site: Site, form: UploadForm | FolderForm, source: ChangeSource) -> Evaluation:
    select = form.cleaned_data["select"]
    if source == ChangeSource.FOLDER:
        return evaluate_folder(site, form.cleaned_data["folder"], select)
    return evaluate_archive(site, form.cleaned_data["archive"], select)


@accepts_upload
@requires("operate")
def change_submit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    form = UploadForm(request.POST or None, request.FILES or None)
    return _submit(request, site, form, ChangeSource.UPLOAD)


@requires("admin")
def change_submit_folder(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    return _submit(request, site, FolderForm(request.POST or None), ChangeSource.FOLDER)


def _decide(request: HtmxHttpRequest, change_id: int, kind: str) -> HttpResponse:
    change = _change(change_id)
    form = ReasonForm(request.POST or None)
    context = {
        "change": change,
        "site": change.site,
        "kind": kind,
        "form": form,
        "verdict": change.verdict,
        "allowed": services.allowed_decisions(change, request.user)[kind],
    }
    if kind != "reject":
        context["binding"] = services.binding_of(change)
    if request.method == "POST" and request.POST.get("confirm") == "yes" and form.is_valid():
        reason = form.cleaned_data["reason"]
        shown = _shown_binding(request)
        try:
            if kind == "approve":
                services.approve(change.pk, request.user, request=request, shown=shown)
            elif kind == "reject":
                services.reject(change.pk, request.user, reason, request=request)
            else:
                services.override(change.pk, request.user, reason, request=request, shown=shown)
        except WorkflowError as exc:
            context["refused"] = str(exc)
            return render(request, "changes/change_decide.html", context, status=409)
        messages.success(request, f"{change}: {dict(Decision.Kind.choices)[kind].lower()}.")
        return redirect(change.get_absolute_url())
    return render(request, "changes/change_decide.html", context)


def _shown_binding(request: HtmxHttpRequest) -> tuple[str, str] | None:
    """The digest and fingerprint the confirmation page showed (None from a client that sent none:
    the decision then binds to what is current, as from the command line)."""
    if "bound_digest" not in request.POST:
        return None
    return request.POST.get("bound_digest", ""), request.POST.get("bound_fingerprint", "")


@requires("approve")
def change_approve(request: HtmxHttpRequest, change_id: int) -> HttpResponse:
    return _decide(request, change_id, "approve")


@requires("approve")
def change_reject(request: HtmxHttpRequest, change_id: int) -> HttpResponse:
    return _decide(request, change_id, "reject")


@requires("admin")
def change_override(request: HtmxHttpRequest, change_id: int) -> HttpResponse:
    return _decide(request, change_id, "override")
