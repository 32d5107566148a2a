"""The notification pages (admins only): channels, one channel with its deliveries (newest first,
paginated), add, edit, enable or disable, delete and "Send a test"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from panel import audit, crud
from panel.htmx import HtmxHttpRequest
from panel.listing import list_page
from panel.notify import service
from panel.notify.forms import ChannelEditForm, ChannelForm, masked_url
from panel.notify.models import Channel
from panel.roles import requires


@requires("admin")
def channel_list(request: HtmxHttpRequest) -> HttpResponse:
    channels = Channel.objects.select_related("cluster", "site").order_by("name")
    return list_page(
        request,
        channels,
        search_fields=["name"],
        template="notify/channel_list.html",
        partial="notify/partials/channel_table.html",
    )


@requires("admin")
def channel_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = crud.save_form(request, form)
        messages.success(request, f"Created channel {channel}.")
        return _shown_once(request, channel, form.generated_secret, "created")
    context = {
        "form": form,
        "title": "New notification channel",
        "cancel_url": reverse("notify-channel-list"),
    }
    return render(request, "form.html", context, status=400 if request.method == "POST" else 200)


@requires("admin")
def channel_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    form = ChannelEditForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        channel = crud.save_form(request, form)
        messages.success(request, f"Saved channel {channel}.")
        return _shown_once(request, channel, form.generated_secret, "given a new secret")
    context = {"form": form, "title": f"Edit channel {channel}", "cancel_url": channel.get_absolute_url()}
    return render(request, "form.html", context, status=400 if request.method == "POST" else 200)


def _shown_once(request: HtmxHttpRequest, channel: Channel, secret: str, what: str) -> HttpResponse:
    """A generated secret is shown on this page only: not in the session, a message or a log."""
    if not secret:
        return redirect(channel.get_absolute_url())
    return render(request, "notify/channel_secret.html", {"channel": channel, "secret": secret, "what": what})


@requires("admin")
@require_POST
def channel_enabled(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Disable (no deliveries: events raised meanwhile are not queued for it) or enable again."""
    channel = get_object_or_404(Channel, pk=pk)
    enable = request.POST.get("enabled") == "1"
    service.set_enabled(channel, enable, request=request)
    messages.success(request, f"Channel {channel} is {'enabled' if enable else 'disabled'}.")
    return redirect(channel.get_absolute_url())


@requires("admin")
def channel_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel.objects.select_related("cluster", "site"), pk=pk)
    return list_page(
        request,
        channel.deliveries.order_by("-id"),
        search_fields=["event"],
        template="notify/channel_detail.html",
        partial="notify/partials/delivery_table.html",
        context={"channel": channel, "url": masked_url(channel)},
    )


@requires("admin")
@require_POST
def channel_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    delivery = service.send_test(channel)
    audit.record("channel.test", request=request, target=channel, detail=delivery.status)
    if delivery.status == "sent":
        messages.success(request, f"Test notice delivered to {channel}.")
    else:
        messages.error(request, f"Test notice to {channel} failed: {delivery.last_error}")
    return redirect(channel.get_absolute_url())


@requires("admin")
def channel_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    return crud.delete(
        request,
        channel,
        success_url=reverse("notify-channel-list"),
        warning="Its delivery history goes with it.",
    )
