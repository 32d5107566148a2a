"""The users page (admins only): list users with their role, add one, change a role, deactivate
or reactivate. Every change goes through panel.users.service (audited, last-admin guard)."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from panel.htmx import HtmxHttpRequest
from panel.listing import list_page
from panel.roles import requires
from panel.users import service
from panel.users.forms import ROLE_CHOICES, ActiveForm, NewUserForm, RoleForm


def _users():  # type: ignore[no-untyped-def]
    return (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.only("id", "name")))
    )


@requires("admin")
def user_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        _users(),
        search_fields=["username", "first_name", "last_name", "email"],
        template="users/user_list.html",
        partial="users/partials/user_table.html",
        context={"role_choices": ROLE_CHOICES},
    )


@requires("admin")
def user_create(request: HtmxHttpRequest) -> HttpResponse:
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = service.create_user(
            form.cleaned_data["username"],
            form.cleaned_data["password1"],
            form.cleaned_data["role"],
            request=request,
        )
        messages.success(request, f"Created {user.get_username()} as {form.cleaned_data['role']}.")
        return redirect("user-list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "form.html",
        {"form": form, "title": "New user", "cancel_url": reverse("user-list")},
        status=status,
    )


def _apply(request: HtmxHttpRequest, change: str, done: bool, name: str) -> HttpResponse:
    if done:
        messages.success(request, f"{name}: {change}.")
    else:
        messages.info(request, f"{name}: nothing to change.")
    return redirect("user-list")


@requires("admin")
@require_POST
def user_role(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose a role: " + ", ".join(r for r, _ in ROLE_CHOICES), status=400)
    try:
        done = service.change_role(user, form.cleaned_data["role"], request=request)
    except service.LastAdminError as exc:
        messages.error(request, str(exc))
        return redirect("user-list")
    return _apply(request, f"role is now {form.cleaned_data['role']}", done, user.get_username())


@requires("admin")
@require_POST
def user_active(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Say active=1 or active=0.", status=400)
    active = form.cleaned_data["active"]
    try:
        done = service.set_active(user, active, request=request)
    except service.LastAdminError as exc:
        messages.error(request, str(exc))
        return redirect("user-list")
    return _apply(request, "reactivated" if active else "deactivated", done, user.get_username())
