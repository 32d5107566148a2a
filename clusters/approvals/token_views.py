"""The API tokens page: each user makes and revokes their own tokens; a secret is shown once.

Any role may hold tokens (a token acts with its user's role, narrowed by its scope and site: a viewer's
can only read). The page that shows a new secret is answered directly to the POST, never through a
redirect or a message, and with `Cache-Control: no-store`, so the secret is in no URL, session or cache.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from clusters.approvals import tokens
from clusters.approvals.forms import TokenForm
from clusters.approvals.models import ApiToken
from panel.htmx import HtmxHttpRequest
from panel.roles import requires

MAX_LIVE_TOKENS = tokens.MAX_LIVE_TOKENS


@requires("view")
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    mine = ApiToken.objects.select_related("site").filter(
        user=request.user  # type: ignore[misc]  # @requires: a real user
    )
    context: dict[str, object] = {"form": form}
    status = 200
    if request.method == "POST":
        if full := tokens.no_room(request.user):
            form.add_error(None, full)
        if form.is_valid():
            data = form.cleaned_data
            token, secret = tokens.create(
                request.user,
                data["name"],
                scope=data["scope"],
                site=data["site"],
                expires_at=data["expires_at"],
                request=request,
            )
            context.update(new_token=token, secret=secret, form=TokenForm())
        else:
            status = 400
    context["tokens"] = list(mine[:200])
    response = render(request, "changes/token_list.html", context, status=status)
    add_never_cache_headers(response)
    return response


@requires("view")
@require_POST
def token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id, user_id=request.user.pk)
    if tokens.revoke(token, actor=request.user, request=request):
        messages.success(request, f"Revoked {token}. Requests with it now get 401.")
    else:
        messages.info(request, f"{token} was already revoked.")
    return redirect("token-list")
