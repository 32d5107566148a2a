"""Forms of the change pages. They check shape only; the gate and the workflow decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms

from clusters.approvals import tokens
from clusters.approvals.gate.manifest import is_addon_name
from clusters.approvals.models import ApiToken
from clusters.models import Site

SELECT_HELP = "Optional: the addons this change is about, comma-separated (default: every addon found)."


class _ChangeForm(forms.Form):
    title = forms.CharField(
        max_length=200, required=False, help_text="What it is: a branch, a merge request, a ticket."
    )
    select = forms.CharField(max_length=5000, required=False, label="Addons", help_text=SELECT_HELP)

    def clean_select(self) -> list[str] | None:
        return parse_select(self.cleaned_data["select"])


def parse_select(value: str | None) -> list[str] | None:
    """'a, b c' -> ['a', 'b', 'c']; None when empty; ValidationError for anything not a plain name."""
    names = [n for n in (value or "").replace(",", " ").split() if n]
    bad = [n for n in names if not is_addon_name(n)]
    if bad:
        raise forms.ValidationError(f"not addon names: {', '.join(bad[:10])}")
    return names or None


class UploadForm(_ChangeForm):
    archive = forms.FileField(
        help_text="A .zip or .tar.gz of addons: one addon, a folder of them, or a repository."
    )
    field_order = ["archive", "title", "select"]


class FolderForm(_ChangeForm):
    folder = forms.CharField(
        max_length=1000,
        help_text="An absolute path on the panel's host holding addons. It is only read.",
    )
    field_order = ["folder", "title", "select"]

    def clean_folder(self) -> str:
        folder: str = self.cleaned_data["folder"].strip()
        if not folder.startswith("/"):
            raise forms.ValidationError("Give an absolute path (starting with /).")
        if "\x00" in folder:
            raise forms.ValidationError("Not a path.")
        return folder


class ReasonForm(forms.Form):
    """Why: optional for a rejection; for an override the workflow demands it (checked in the service,
    so the API and the page refuse the same way)."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, required=False)


class TokenForm(forms.Form):
    """A new token: the narrowest scope, any site and 90 days unless told; `expires_at` in cleaned_data."""

    name = forms.CharField(max_length=100, help_text="Where it will be used, e.g. 'CI of the acme addons'.")
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.CHECK,
        required=False,
        help_text="Check only: dry runs and reads, for a pre-merge pipeline. Submit: also stores changes.",
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        empty_label="Any site",
        help_text="Bind it to one site: requests about any other get 403.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=ApiToken.MAX_DAYS,
        required=False,
        label="Expires in (days)",
        help_text=f"Default {ApiToken.DEFAULT_DAYS}, at most {ApiToken.MAX_DAYS}.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Or expires on",
        help_text="The day it stops working (at 00:00), YYYY-MM-DD.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_scope(self) -> str:
        return self.cleaned_data["scope"] or ApiToken.Scope.CHECK

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        days, on = data.get("expires_in_days"), data.get("expires_on")
        if days and on:
            raise forms.ValidationError("Give the days or the date it expires, not both.")
        expires_at = tokens.expiry(days=days, on=on)
        if problem := tokens.expiry_problem(expires_at):
            self.add_error("expires_on" if on else "expires_in_days", problem)
        data["expires_at"] = expires_at
        return data
