"""Create, edit and delete, the same way on every page: a form page that re-renders with the
user's errors, and a delete that asks first (a confirmation page, or hx-confirm in the table).
Every save and delete is audited here, in the same transaction as the change itself."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import models, transaction
from django.db.models import ProtectedError
from django.forms import ModelForm
from django.http import HttpResponse
from django.shortcuts import redirect, render

from panel import audit
from panel.audit.snapshot import changes, secret_fingerprints, snapshot
from panel.htmx import HtmxHttpRequest, go


def save_form(
    request: HtmxHttpRequest | None,
    form: ModelForm,
    *,
    before_save: Callable[[Any], None] | None = None,
    actor: Any = None,
) -> Any:
    """Save a valid form and record "<model>.create" or "<model>.edit" with what changed.

    The pages pass their request; management commands pass None and their actor
    (panel.cli.command_actor). The "before" side is read back from the database, not taken from
    form.instance: validating the form has already written the new values into the instance."""
    instance = form.instance
    model = type(instance)
    with transaction.atomic():
        stored = model._base_manager.filter(pk=instance.pk).first() if instance.pk else None
        obj = form.save(commit=False)
        if before_save:
            before_save(obj)
        obj.save()
        form.save_m2m()
        if stored is None:
            action = f"{model._meta.model_name}.create"
            audit.record(action, request=request, actor=actor, target=obj, after=snapshot(obj))
        else:
            old, new = secret_fingerprints(stored), secret_fingerprints(obj)
            before, after = changes(snapshot(stored), snapshot(obj), {k for k in new if new[k] != old.get(k)})
            audit.record(
                f"{model._meta.model_name}.edit",
                request=request,
                actor=actor,
                target=obj,
                before=before,
                after=after,
                detail="" if after else "saved without changes",
            )
    return obj


def edit(
    request: HtmxHttpRequest,
    form_class: type[ModelForm],
    *,
    instance: models.Model | None = None,
    initial: dict[str, Any] | None = None,
    before_save: Callable[[Any], None] | None = None,
    after_save: Callable[[Any], None] | None = None,
    success_url: Callable[[Any], str],
    title: str,
    cancel_url: str,
    form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    """`after_save(obj)` runs once the change is committed (e.g. to start the job that applies it);
    `form_kwargs` go to the form (what it may allow this user)."""
    form = form_class(request.POST or None, instance=instance, initial=initial, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        created = form.instance.pk is None
        obj = save_form(request, form, before_save=before_save)
        messages.success(request, f"{'Created' if created else 'Saved'} {obj}.")
        if after_save:
            after_save(obj)
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
    after_delete: Callable[[], None] | None = None,
) -> HttpResponse:
    if request.method == "POST":
        name = str(obj)
        try:
            delete_object(obj, request=request)
        except ProtectedError as exc:
            messages.error(request, f"{name} cannot be deleted while these depend on it: {blockers(exc)}.")
            return redirect(request.path)
        messages.success(request, f"Deleted {name}.")
        if after_delete:
            after_delete()
        return go(request, success_url)
    return render(
        request, "confirm_delete.html", {"object": obj, "warning": warning, "cancel_url": success_url}
    )


def delete_object(obj: models.Model, *, request: HtmxHttpRequest | None = None, actor: Any = None) -> None:
    """Delete and record "<model>.delete" (with what cascaded) in one transaction: the pages and the
    management commands both come here. ProtectedError when something still depends on it."""
    target, before = audit.Target.of(obj), snapshot(obj)
    with transaction.atomic():
        _, cascaded = obj.delete()
        audit.record(
            f"{target.type}.delete",
            request=request,
            actor=actor,
            target=target,
            before=before,
            detail=_cascade_note(cascaded, type(obj)._meta.label),
        )


def blockers(exc: ProtectedError) -> str:
    """The objects that keep a protected one from being deleted, named (at most ten)."""
    return ", ".join(sorted(str(o) for o in exc.protected_objects)[:10])


def _cascade_note(deleted: dict[str, int], own_label: str) -> str:
    others = {label: n for label, n in deleted.items() if label != own_label and n}
    if not others:
        return ""
    return "also deleted: " + ", ".join(
        f"{n} {label.split('.')[-1].lower()}" for label, n in sorted(others.items())
    )
