"""Manifest changes, the decisions taken on them, and the API tokens that let CI submit them.

The verdict and the parsed manifests are stored as JSON, never the uploaded files: an upload lives only
in a temporary folder while the gate reads it (clusters.approvals.intake). ChangeAddon names the addons a
change covers, one row each, so the module update can ask "is the latest change of module X approved?"
with one indexed query instead of scanning every verdict.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from clusters.approvals.gate import workflow


class ChangeState(models.TextChoices):
    BLOCKED = workflow.BLOCKED, "Blocked"
    PENDING = workflow.PENDING, "Pending approval"
    APPROVED = workflow.APPROVED, "Approved"
    REJECTED = workflow.REJECTED, "Rejected"
    OVERRIDDEN = workflow.OVERRIDDEN, "Approved (overridden)"


class ChangeSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded archive"
    FOLDER = "folder", "Folder on the panel's host"
    API = "api", "HTTP API"
    IMAGE = "image", "Addons of a new image (read at deploy)"


class ManifestChange(models.Model):
    site = models.ForeignKey("clusters.Site", on_delete=models.CASCADE, related_name="manifest_changes")
    state = models.CharField(max_length=10, choices=ChangeState.choices)
    title = models.CharField(max_length=200, blank=True, help_text="What it is: a branch, a merge request.")
    source = models.CharField(max_length=10, choices=ChangeSource.choices)
    source_name = models.CharField(max_length=1000, help_text="The archive's file name or the folder.")
    series = models.CharField(max_length=5)
    passes = models.BooleanField()
    addons_count = models.PositiveIntegerField(default=0)
    blocked_count = models.PositiveIntegerField(default=0)
    # The `gate check --json` verdict, and name -> {depends, version, installable} of every addon read.
    verdict = models.JSONField()
    manifests = models.JSONField(default=dict)
    # When the site's installed modules that the verdict compared against were read from its database.
    modules_read_at = models.DateTimeField(null=True)
    # What an approval of it binds to (gate.binding): the image an image change was read from (empty
    # for an upload, a folder or the API), and the fingerprint of the covered addons' manifests.
    image_digest = models.CharField(max_length=71, blank=True)
    manifest_fingerprint = models.CharField(max_length=71, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_by_name = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "jobs_manifestchange"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["site", "-created_at"], name="change_site_created"),
            models.Index(fields=["state", "-created_at"], name="change_state_created"),
        ]

    def __str__(self) -> str:
        return f"manifest change #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("change-detail", args=[self.pk])

    @property
    def may_update(self) -> bool:
        return workflow.may_update(self.state)

    def manifest_hashes(self) -> dict[str, str]:
        """Each covered addon's manifest hash as judged ("" for a change stored before hashes were)."""
        return {name: str(self.manifests.get(name, {}).get("sha256", "")) for name in self.verdict["addons"]}

    def binding_digest(self) -> str:
        """The digest a decision taken now binds to: the image an image change was read from, else
        the one the site runs (what its module update would run on)."""
        return self.image_digest if self.source == ChangeSource.IMAGE else self.site.image_digest


class ChangeAddon(models.Model):
    """One addon a change covers (the verdict's addons). `site` is copied from the change for the index."""

    change = models.ForeignKey(ManifestChange, on_delete=models.CASCADE, related_name="addons")
    site = models.ForeignKey("clusters.Site", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=128)
    blocked = models.BooleanField(default=False)
    installed = models.BooleanField(default=False)

    class Meta:
        db_table = "jobs_changeaddon"
        indexes = [models.Index(fields=["site", "name", "-change"], name="change_addon_latest")]
        constraints = [models.UniqueConstraint(fields=["change", "name"], name="change_addon_once")]

    def __str__(self) -> str:
        return f"{self.name} in change #{self.change_id}"


class Decision(models.Model):
    class Kind(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        OVERRIDE = "override", "Overrode the block"

    change = models.ForeignKey(ManifestChange, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    state_before = models.CharField(max_length=10, choices=ChangeState.choices)
    state_after = models.CharField(max_length=10, choices=ChangeState.choices)
    # What an approval or override covers (gate.binding). Empty on decisions taken before they were
    # bound: such an approval covers no update or deploy, a new decision is needed (migration 0004).
    image_digest = models.CharField(max_length=71, blank=True)
    manifest_fingerprint = models.CharField(max_length=71, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "jobs_decision"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.kind} change #{self.change_id}"


class ApiToken(models.Model):
    """A bearer token: the sha256 of its secret, an end, a scope and optionally one site. Its power is
    the intersection of its scope and site with its user's role at the time of each request."""

    class Scope(models.TextChoices):
        CHECK = "check", "Check only (dry runs and reads)"
        SUBMIT = "submit", "Submit changes and check"

    DEFAULT_DAYS = 90
    MAX_DAYS = 365

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="Where it is used, e.g. 'gitlab CI for acme'.")
    prefix = models.CharField(max_length=16, help_text="The secret's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    # CASCADE, not SET_NULL: a token bound to a deleted site must not become a token for every site.
    site = models.ForeignKey(
        "clusters.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The one site it may act on; empty: any site.",
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "jobs_apitoken"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"token {self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
