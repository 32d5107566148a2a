"""The permission names behind the four roles (see panel/roles.py)."""

from django.db import models


class Access(models.Model):
    """Holds no rows: it only owns the custom permissions that the role groups are given."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_panel", "Can see clusters, sites, jobs and logs"),
            ("operate_sites", "Can deploy, scale and update sites, and submit manifest changes"),
            ("approve_changes", "Can approve or reject manifest changes of others"),
            ("administer", "Can manage clusters, credentials and users"),
        ]

    def __str__(self) -> str:
        return "access"


class AuditEvent(models.Model):
    """One thing that happened: append-only (database triggers refuse UPDATE, DELETE and TRUNCATE)
    and hash-chained (`hash` covers the row's content and `prev_hash`, keyed: panel/audit/chain.py),
    so that tampering shows in `manage.py audit verify`. Write through `panel.audit.record`, never directly.

    No foreign keys on purpose: ON DELETE SET NULL would be an UPDATE, which the trigger refuses,
    so deleting a user, a site or a job would fail. The user key, job id, site slug and cluster name
    are plain values; the username and target name are kept as they were when the event happened.
    """

    time = models.DateTimeField()
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    job_id = models.BigIntegerField(null=True, blank=True)
    site_slug = models.CharField(max_length=64, blank=True)
    cluster_name = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)
    # "sha256" for events from before the chain was keyed, "hmac-sha256" (and the key's id) since.
    hash_alg = models.CharField(max_length=16, db_default="sha256")
    key_id = models.CharField(max_length=16, blank=True, db_default="")

    class Meta:
        ordering = ["-time", "-id"]
        default_permissions = ()
        # Each filter of the review page is an equality followed by the keyset order (time, id), so
        # "newest 50 for this site" and "the 50 after this cursor" are one index range each.
        indexes = [
            models.Index(fields=["time", "id"], name="audit_time"),
            models.Index(fields=["actor_username", "time", "id"], name="audit_actor_time"),
            models.Index(fields=["action", "time", "id"], name="audit_action_time"),
            models.Index(fields=["site_slug", "time", "id"], name="audit_site_time"),
            models.Index(fields=["cluster_name", "time", "id"], name="audit_cluster_time"),
            models.Index(fields=["job_id"], name="audit_job", condition=models.Q(job_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} by {self.actor_username or 'unknown'}"
