"""The channel form, shared by the page and `notify add`: the URL's scheme decides the kind, and a
webhook without a secret gets a generated one (shown once)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from django import forms

from panel.crypto import reveal
from panel.notify.catalog import EVENTS, default_events, subscribable
from panel.notify.models import Channel

WEBHOOK_SCHEMES = ("http", "https")


def kind_of(url: str) -> str:
    return Channel.Kind.WEBHOOK if urlsplit(url).scheme.lower() in WEBHOOK_SCHEMES else Channel.Kind.APPRISE


def apprise_understands(url: str) -> bool:
    import apprise

    return apprise.Apprise.instantiate(url) is not None


class ChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="https://… for a signed webhook; mailto://, slack://, msteams://, tgram://… for Apprise.",
    )
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Webhooks only; left blank, a secret is generated and shown once.",
    )
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in subscribable()],
        initial=default_events,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Channel
        fields = ["name", "url", "secret", "events", "cluster", "site", "enabled"]

    generated_secret = ""

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        scheme = urlsplit(url).scheme.lower()
        if not scheme or "://" not in url:
            raise forms.ValidationError("give a URL with a scheme: https://…, mailto://…, slack://…")
        if scheme in WEBHOOK_SCHEMES and not urlsplit(url).hostname:
            raise forms.ValidationError("a webhook URL needs a host")
        if scheme not in WEBHOOK_SCHEMES and not apprise_understands(url):
            raise forms.ValidationError(f"Apprise does not understand this {scheme}:// URL")
        return url

    def clean_events(self) -> list[str]:
        events = list(self.cleaned_data.get("events") or [])
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise forms.ValidationError(f"unknown events: {', '.join(unknown)}")
        return events

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("cluster") and data.get("site"):
            self.add_error("site", "scope a channel to a cluster or a site, not both")
        url = data.get("url") or ""
        if url:
            data["kind"] = kind_of(url)
            if data["kind"] == Channel.Kind.APPRISE:
                data["secret"] = ""
            elif not data.get("secret"):
                data["secret"] = self.generated_secret = secrets.token_urlsafe(32)
        return data

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        channel.kind = self.cleaned_data["kind"]
        channel.secret = self.cleaned_data["secret"]
        if commit:
            channel.save()
        return channel


class ChannelEditForm(ChannelForm):
    """An existing channel: its URL and secret are never shown back. A blank URL keeps the current
    one; a webhook keeps its secret unless a new one is given or rotated (generated, shown once)."""

    rotate_secret = forms.BooleanField(
        required=False,
        label="Rotate the secret",
        help_text="Webhooks: a new secret is generated and shown once.",
    )

    class Meta(ChannelForm.Meta):
        fields = ["url", "secret", "rotate_secret", "events", "cluster", "site"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""
        self.fields["url"].required = False
        self.fields["url"].help_text = f"Now {masked_url(self.instance)}; leave blank to keep it."
        self.fields["secret"].help_text = "Webhooks: a new secret; leave blank to keep the current one."

    def clean_url(self) -> str:
        if not (self.cleaned_data.get("url") or "").strip():
            return reveal(self.instance.url)
        return super().clean_url()

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        stays_webhook = (
            self.instance.kind == Channel.Kind.WEBHOOK and kind_of(data.get("url") or "") == "webhook"
        )
        if not data.get("secret") and stays_webhook and not data.get("rotate_secret"):
            data["secret"] = reveal(self.instance.secret)
        return super().clean()


def masked_url(channel: Channel) -> str:
    """The URL as pages and `notify list` show it: a webhook's scheme and host, an Apprise URL's
    scheme only (its "host" is often a token), never a path, a query or credentials."""
    parts = urlsplit(reveal(channel.url))
    if channel.kind != Channel.Kind.WEBHOOK or not parts.hostname:
        return f"{parts.scheme}://…"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"
