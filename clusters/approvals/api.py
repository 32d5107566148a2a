"""The JSON API for CI pipelines: submit a change, ask before a merge (dry run), read a change.

    POST /api/sites/<slug>/changes   multipart `archive` (+ `title`, `select`); `?dry_run=1` stores nothing
    POST /api/sites/<slug>/check     the same as dry_run=1
    GET  /api/changes/<id>

The body is the `gate check --json` verdict, unchanged, plus one key "change" ({id, state, ...}, or
null for a dry run). Errors are {"error": ..., "errors": [{path, message}]} with 400 (bad input),
401 (no or bad token), 403 (role), 404, 405, 409 (the site's modules were never read), 413.

Authentication: `Authorization: Bearer osp_...` (a token acts with its user's current role), or the
browser session. CSRF is skipped only for a request that authenticates with a token (a browser never
attaches one by itself); a session-authenticated POST must carry the CSRF token like any form.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from clusters.approvals import services, tokens
from clusters.approvals.forms import parse_select
from clusters.approvals.gate.errors import GateError
from clusters.approvals.intake import MAX_UPLOAD_BYTES, ModulesNotRead, evaluate_archive
from clusters.approvals.models import ChangeSource, ManifestChange
from clusters.models import Site
from panel.roles import can

View = Callable[..., JsonResponse]


def error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, "errors": [], **extra}, status=status)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    """Django's own CSRF check, run by hand: the views are csrf_exempt so that token requests pass,
    and a session-authenticated request must still pass it (None) or gets the reason."""
    check = _CsrfCheck(lambda req: None)  # type: ignore[arg-type,return-value]
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[arg-type,return-value]


def api_view(action: str, methods: tuple[str, ...]) -> Callable[[View], View]:
    """Authenticate (token or session), check the role with panel.roles, answer JSON errors."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            header = request.headers.get("Authorization", "")
            if header:
                scheme, _, secret = header.partition(" ")
                token = tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
                if token is None:
                    return _unauthorized("invalid or revoked token")
                request.user = token.user
            elif not request.user.is_authenticated:
                return _unauthorized("authentication required: send Authorization: Bearer <token>")
            elif (failure := _csrf_failure(request)) is not None:
                return error(403, f"CSRF check failed ({failure}); API clients send a token instead")
            if not can(request.user, action):
                return error(403, f"your role does not allow this ({action} is needed)")
            if request.method not in methods:
                response = error(405, f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        wrapper.required_action = action  # type: ignore[attr-defined]
        return csrf_exempt(login_not_required(wrapper))  # type: ignore[return-value]

    return decorate


def _unauthorized(message: str) -> JsonResponse:
    response = error(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="odoo-swarm-panel"'
    return response


@api_view("operate", ("POST",))
def submit(request: HttpRequest, slug: str) -> JsonResponse:
    return _check_or_submit(request, slug, dry_run=request.GET.get("dry_run", "") in ("1", "true", "yes"))


@api_view("operate", ("POST",))
def check(request: HttpRequest, slug: str) -> JsonResponse:
    return _check_or_submit(request, slug, dry_run=True)


@api_view("view", ("GET",))
def change_detail(request: HttpRequest, change_id: int) -> JsonResponse:
    change = ManifestChange.objects.select_related("site").filter(pk=change_id).first()
    if change is None:
        return error(404, f"change {change_id} unknown")
    return JsonResponse(body(request, change.verdict, change))


def _check_or_submit(request: HttpRequest, slug: str, dry_run: bool) -> JsonResponse:
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        return error(404, f"site {slug} unknown")
    if _content_length(request) > MAX_UPLOAD_BYTES + (1 << 20):  # refused before Django spools the body
        return error(413, f"the request is larger than the {MAX_UPLOAD_BYTES >> 20} MiB upload limit")
    upload = request.FILES.get("archive")
    if upload is None:
        return error(400, "send the addons as a multipart file field named 'archive' (.zip or .tar.gz)")
    try:
        select = parse_select(request.POST.get("select"))
    except ValidationError as exc:
        return error(400, f"select: {'; '.join(exc.messages)}")
    try:
        evaluation = evaluate_archive(site, upload, select)
    except ModulesNotRead as exc:
        return error(409, str(exc), read_modules=reverse("site-read-modules", args=[site.slug]))
    except GateError as exc:
        return JsonResponse(exc.as_dict(), status=400)
    if dry_run:
        return JsonResponse(body(request, evaluation.verdict, None))
    change = services.submit(
        site,
        evaluation,
        user=request.user,
        source=ChangeSource.API,
        title=request.POST.get("title", ""),
        request=request,
    )
    return JsonResponse(body(request, change.verdict, change), status=201)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def body(
    request: HttpRequest | None, verdict: dict[str, Any], change: ManifestChange | None
) -> dict[str, Any]:
    """The verdict as `gate check --json` prints it, plus "change". Without a request (`manage.py
    change --json`) the URLs are paths."""
    absolute = request.build_absolute_uri if request is not None else str
    if change is None:
        return {**verdict, "change": None}
    decisions = [
        {
            "kind": d.kind,
            "by": d.actor_name,
            "reason": d.reason,
            "state": d.state_after,
            "at": d.created_at.isoformat(),
        }
        for d in change.decisions.all()
    ]
    return {
        **verdict,
        "change": {
            "id": change.pk,
            "state": change.state,
            "site": change.site.slug,
            "title": change.title,
            "submitted_by": change.submitted_by_name,
            "created_at": change.created_at.isoformat(),
            "may_update": change.may_update,
            "decisions": decisions,
            "url": absolute(change.get_absolute_url()),
            "api_url": absolute(reverse("api-change-detail", args=[change.pk])),
        },
    }
