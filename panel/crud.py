"""Create, edit and delete, the same way on every page: a form page that re-renders with the
user's errors, and a delete that asks first (a confirmation page, or hx-confirm in the table)."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import models
from django.db.models import ProtectedError
from django.forms import ModelForm
from django.http import HttpResponse
from django.shortcuts import redirect, render

from panel.htmx import HtmxHttpRequest


def edit(
    request: HtmxHttpRequest,
    form_class: type[ModelForm],
    *,
    instance: models.Model | None = None,
    initial: dict[str, Any] | None = None,
    before_save: Callable[[Any], None] | None = None,
    success_url: Callable[[Any], str],
    title: str,
    cancel_url: str,
) -> HttpResponse:
    form = form_class(request.POST or None, instance=instance, initial=initial)
    if request.method == "POST" and form.is_valid():
        obj = form.save(commit=False)
        if before_save:
            before_save(obj)
        obj.save()
        form.save_m2m()
        messages.success(request, f"{'Saved' if instance else 'Created'} {obj}.")
        return redirect(success_url(obj))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "form.html", {"form": form, "title": title, "cancel_url": cancel_url}, status=status
    )


def delete(
    request: HtmxHttpRequest,
    obj: models.Model,
    *,
    success_url: str,
    warning: str = "",
) -> HttpResponse:
    if request.method == "POST":
        name = str(obj)
        try:
            obj.delete()
        except ProtectedError as exc:
            blockers = ", ".join(sorted(str(o) for o in exc.protected_objects)[:10])
            messages.error(request, f"{name} cannot be deleted while these depend on it: {blockers}.")
            return redirect(request.path)
        messages.success(request, f"Deleted {name}.")
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = success_url
            return response
        return redirect(success_url)
    return render(
        request, "confirm_delete.html", {"object": obj, "warning": warning, "cancel_url": success_url}
    )
