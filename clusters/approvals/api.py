"""The JSON API for CI pipelines: submit a change, ask before a merge (dry run), read a change.

    POST /api/sites/<slug>/changes   multipart `archive` (+ `title`, `select`); `?dry_run=1` stores nothing
    POST /api/sites/<slug>/check     the same as dry_run=1
    GET  /api/changes/<id>

The body is the `gate check --json` verdict, unchanged, plus one key "change" ({id, state, ...}, or
null for a dry run). Errors are {"error": ..., "errors": [{path, message}]} with 400 (bad input),
401 (no or bad token), 403 (role), 404, 405, 409 (the site's modules were never read), 413 (a body
over PANEL_MAX_UPLOAD_BYTES, refused before it is read: panel/uploads.py).

Authentication: `Authorization: Bearer osp_...`, or the browser session. A token acts with its user's
current role narrowed by its scope ("check": dry runs and reads; "submit": also stores changes) and
its site if bound to one (403 elsewhere); an expired one gets 401 saying when it ended. CSRF is
skipped only for a request that authenticates with a token (a browser never attaches one by itself);
a session-authenticated POST must carry the CSRF token like any form.
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
from clusters.approvals.intake import ModulesNotRead, evaluate_archive
from clusters.approvals.models import ChangeSource, ManifestChange
from clusters.models import Site
from panel.roles import can
from panel.uploads import accepts_upload

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


def api_view(
    action: str, methods: tuple[str, ...], scope: str | Callable[[HttpRequest], str] = tokens.Scope.CHECK
) -> Callable[[View], View]:
    """Authenticate (token or session), check the token's scope and site and the role (panel.roles),
    answer JSON errors. `scope`: what a token needs for this view, or a function of the request."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if (refused := _authenticate(request)) is not None:
                return refused
            if not can(request.user, action):
                return error(403, f"your role does not allow this ({action} is needed)")
            needed = scope(request) if callable(scope) else scope
            if (refused := _outside(request, needed, kwargs.get("slug"))) is not None:
                return refused
            if request.method not in methods:
                response = error(405, f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        wrapper.required_action = action  # type: ignore[attr-defined]
        return csrf_exempt(login_not_required(wrapper))  # type: ignore[return-value]

    return decorate


def _authenticate(request: HttpRequest) -> JsonResponse | None:
    """Set request.user (and request.api_token for a token); a JSON refusal, or None."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        try:
            token = tokens.identify(secret.strip() if scheme.lower() == "bearer" else "")
        except tokens.Refused as exc:
            return _unauthorized(exc.message)
        request.user = token.user
        request.api_token = token  # type: ignore[attr-defined]
    elif not request.user.is_authenticated:
        return _unauthorized("authentication required: send Authorization: Bearer <token>")
    elif (failure := _csrf_failure(request)) is not None:
        return error(403, f"CSRF check failed ({failure}); API clients send a token instead")
    return None


def _outside(request: HttpRequest, scope: str, site_slug: str | None) -> JsonResponse | None:
    """403 when the request's token does not reach that far (a session has no such limit)."""
    token = getattr(request, "api_token", None)
    if token is not None and (why := tokens.refusal(token, scope=scope, site_slug=site_slug)):
        return error(403, why)
    return None


def _unauthorized(message: str) -> JsonResponse:
    response = error(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="odoo-swarm-panel"'
    return response


def _dry_run(request: HttpRequest) -> bool:
    return request.GET.get("dry_run", "") in ("1", "true", "yes")


def _submit_scope(request: HttpRequest) -> str:
    return tokens.Scope.CHECK if _dry_run(request) else tokens.Scope.SUBMIT


@accepts_upload
@api_view("operate", ("POST",), scope=_submit_scope)
def submit(request: HttpRequest, slug: str) -> JsonResponse:
    return _check_or_submit(request, slug, dry_run=_dry_run(request))


@accepts_upload
@api_view("operate", ("POST",))
def check(request: HttpRequest, slug: str) -> JsonResponse:
    return _check_or_submit(request, slug, dry_run=True)


@api_view("view", ("GET",))
def change_detail(request: HttpRequest, change_id: int) -> JsonResponse:
    change = ManifestChange.objects.select_related("site").filter(pk=change_id).first()
    if change is None:
        return error(404, f"change {change_id} unknown")
    if (refused := _outside(request, tokens.Scope.CHECK, change.site.slug)) is not None:
        return refused
    return JsonResponse(body(request, change.verdict, change))


def _check_or_submit(request: HttpRequest, slug: str, dry_run: bool) -> JsonResponse:
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        return error(404, f"site {slug} unknown")
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
            "image_digest": d.image_digest,
            "manifest_fingerprint": d.manifest_fingerprint,
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
            "image_digest": change.image_digest,
            "manifest_fingerprint": change.manifest_fingerprint,
            "decisions": decisions,
            "url": absolute(change.get_absolute_url()),
            "api_url": absolute(reverse("api-change-detail", args=[change.pk])),
        },
    }
