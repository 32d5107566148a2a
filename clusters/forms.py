"""Forms for clusters, sites and domains. Validation lives on the models; forms add what only a
form knows (secrets that keep their value when left blank)."""

from typing import Any

from django import forms

from clusters.certs import CertificateError, check_pair
from clusters.edge.checks import held_elsewhere
from clusters.models import EDGE_SETTINGS, Cluster, Domain, Edge, Site
from clusters.stack.rules import image_registry
from panel.crypto import reveal


class KeepSecretWidget(forms.Textarea):
    """Never renders the stored secret back into the page."""

    def format_value(self, value: Any) -> str:
        return ""


class ClusterForm(forms.ModelForm):
    """The three TLS PEMs are stored encrypted: never rendered back into the page, and a PEM left
    blank on edit keeps the stored value."""

    class Meta:
        model = Cluster
        fields = [
            "name",
            "endpoint",
            "tls_ca",
            "tls_cert",
            "tls_key",
            "default_db_image",
            "default_redis_image",
            "backup_root",
        ]
        widgets = {
            "tls_ca": KeepSecretWidget(
                attrs={"rows": 3, "placeholder": "Leave blank to keep the stored CA certificate"}
            ),
            "tls_cert": KeepSecretWidget(
                attrs={"rows": 3, "placeholder": "Leave blank to keep the stored client certificate"}
            ),
            "tls_key": KeepSecretWidget(
                attrs={"rows": 3, "placeholder": "Leave blank to keep the stored key"}
            ),
        }

    def _keep(self, name: str) -> Any:
        value = self.cleaned_data.get(name)
        if not value and self.instance.pk:
            return getattr(self.instance, name)
        return value

    def clean_tls_ca(self) -> Any:
        return self._keep("tls_ca")

    def clean_tls_cert(self) -> Any:
        return self._keep("tls_cert")

    def clean_tls_key(self) -> Any:
        return self._keep("tls_key")


# The backup schedule and retention (clusters/sites/backups/): optional on the form.
BACKUP_FIELDS = ("backup_interval_hours", "backup_keep_daily", "backup_keep_weekly", "backup_keep_monthly")


class SiteForm(forms.ModelForm):
    _password_entered: bool
    _registry_host: str | None  # the registry save() records with the credentials (None: leave it)

    class Meta:
        model = Site
        fields = [
            "cluster",
            "slug",
            "name",
            "series",
            "session_store",
            "image",
            "replicas",
            "workers",
            "db_name",
            "db_node",
            "filestore_kind",
            "nfs_server",
            "nfs_export",
            "nfs_options",
            "bind_path",
            "addons_path",
            "traefik_version",
            "traefik_entrypoint",
            "traefik_certresolver",
            "traefik_network",
            "sticky_cookie",
            "db_image",
            "redis_image",
            "language",
            "country",
            "with_demo",
            "registry_username",
            "registry_password",
            "rehearsal_required",
            *BACKUP_FIELDS,
        ]
        widgets = {"registry_password": forms.PasswordInput(attrs={"placeholder": "Leave blank to keep"})}

    def clean_registry_password(self) -> Any:
        password = self.cleaned_data.get("registry_password")
        self._password_entered = bool(password)
        return password or (self.instance.registry_password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in BACKUP_FIELDS:  # left blank (or not sent by an older form): kept as they are
            if cleaned.get(name) is None:
                cleaned[name] = getattr(self.instance, name)
        if cleaned.get("image") and "registry_username" in cleaned and "registry_password" in cleaned:
            self._registry_credentials(cleaned, image_registry(str(cleaned["image"])))
        relaxed = (
            self.instance.pk and self.instance.rehearsal_required and not cleaned.get("rehearsal_required")
        )
        if relaxed and not self.may_relax_policy:
            # Else an operator refused an override (admins only) would switch the policy off instead.
            self.add_error("rehearsal_required", "Only an admin may turn the green-rehearsal policy off.")
        if self.instance.pk and not self.may_relax_policy:
            self._guard_backup_settings(cleaned)
        return cleaned

    def _guard_backup_settings(self, cleaned: dict[str, Any]) -> None:
        """Fewer backups kept, or none taken, only by an admin: the next backup's retention deletes
        what no longer fits, without a confirmation."""
        for name in BACKUP_FIELDS:
            old, new = getattr(self.instance, name), cleaned.get(name)
            if name == "backup_interval_hours":
                fewer = new == 0 and old != 0
            else:
                fewer = new is not None and new < old
            if fewer:
                self.add_error(name, "Only an admin may keep fewer backups or turn scheduled backups off.")

    def _registry_credentials(self, cleaned: dict[str, Any], host: str) -> None:
        """Record the registry the credentials are for (`host`, the image's), or refuse.

        The credentials are only sent to the registry they were entered for (clusters/sites/registry_auth.py).
        An image moved to another registry while the password is left blank ("keep") is refused, and the
        stored credentials are neither kept for the new registry nor dropped behind the user's back: the
        error says what to do (enter the password for the new registry, or clear the username when it
        needs none). Dropping them silently would turn a typo in the host (a port left out) into lost
        credentials and a deploy that fails later with "unauthorized"; refusing costs one more field and
        leaves both the stored secret and the decision with the user. A blank username means no
        credentials: the password goes too."""
        if not cleaned["registry_username"]:
            if self._password_entered:
                self.add_error(
                    "registry_username", "Enter the username that goes with the registry password."
                )
            cleaned["registry_password"] = ""
            self._registry_host = ""
            return
        stored = self.instance.registry_host if self.instance.pk and self.instance.registry_username else None
        if self._password_entered or stored is None or stored == host:
            self._registry_host = host
            return
        self.add_error(
            "registry_password",
            f"The image is now on {host}, but the stored registry credentials are for "
            f"{stored or 'no recorded registry'} and are never sent to another one. Enter the password "
            f"(and username) for {host}, or clear the username if the image needs no credentials.",
        )

    def save(self, commit: bool = True) -> Any:
        if self._registry_host is not None:
            self.instance.registry_host = self._registry_host
        return super().save(commit)

    def clean_language(self) -> str:
        """Left out (an older client, a form without it): Odoo's own default."""
        return str(self.cleaned_data.get("language") or Site._meta.get_field("language").default)

    def __init__(self, *args: Any, may_relax_policy: bool = False, **kwargs: Any) -> None:
        """`may_relax_policy`: whoever submits may turn the green-rehearsal policy off (an admin)."""
        super().__init__(*args, **kwargs)
        self.may_relax_policy = may_relax_policy
        self._password_entered = False
        self._registry_host = None
        self.fields["language"].required = False
        if self.instance.pk:
            # Renaming a site would orphan its Swarm services and database.
            self.fields["slug"].disabled = True
            self.fields["cluster"].disabled = True


class DomainForm(forms.ModelForm):
    """A domain is unique in the panel's table and on the site's edge: a router that another site, or
    anything else on the same Traefik, already has for it is named in the refusal (read live; an
    edge that does not answer leaves the table's check alone)."""

    class Meta:
        model = Domain
        fields = ["name"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "shop.example.com", "autocomplete": "off"})}

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"])
        owners = held_elsewhere(self.instance.site, name) if self.instance.site_id else []
        if owners:
            raise forms.ValidationError(f"{name} is already routed on the edge by {', '.join(owners)}.")
        return name


class EdgeForm(forms.ModelForm):
    """The cluster's Traefik: what the panel renders it from (clusters/edge/render.py). The default
    certificate's key is stored encrypted, never rendered back, and kept when left blank; the
    certificate is the switch: blank removes both."""

    class Meta:
        model = Edge
        fields = list(EDGE_SETTINGS)
        widgets = {
            "default_cert": forms.Textarea(attrs={"rows": 4}),
            "default_key": KeepSecretWidget(
                attrs={"rows": 3, "placeholder": "Leave blank to keep the stored key"}
            ),
        }

    def clean_default_key(self) -> Any:
        value = self.cleaned_data.get("default_key")
        if not value and self.instance.pk:
            return self.instance.default_key
        return value

    def clean(self) -> dict[str, Any]:
        """The default certificate comes with its own key and is valid now."""
        data = super().clean() or {}
        cert, key = data.get("default_cert") or "", reveal(data.get("default_key"))
        if not cert.strip():
            data["default_key"] = ""
        elif not key.strip():
            self.add_error("default_key", "Give the private key of the default certificate.")
        elif not self.errors:
            try:
                check_pair(cert, key)
            except CertificateError as exc:
                self.add_error("default_cert", str(exc))
        return data
