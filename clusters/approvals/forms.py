"""Forms of the change pages. They check shape only; the gate and the workflow decide the rest."""

from __future__ import annotations

from django import forms

from clusters.approvals.gate.manifest import is_addon_name

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
    name = forms.CharField(max_length=100, help_text="Where it will be used, e.g. 'CI of the acme addons'.")
