"""Clusters, their nodes, the Odoo sites on them and the sites' domains (backups: backup.py)."""

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from clusters import validators as v
from panel.crypto import EncryptedTextField, Secret


class Cluster(models.Model):
    class Status(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        OK = "ok", "Connected"
        UNREACHABLE = "unreachable", "Unreachable"
        ERROR = "error", "Error"

    name = models.SlugField(max_length=40, unique=True, help_text="A short name, e.g. prod-eu.")
    endpoint = models.CharField(
        max_length=255,
        validators=[v.validate_endpoint],
        help_text="unix:///var/run/docker.sock, tcp://manager:2376 (TLS) or ssh://user@manager",
    )
    # TLS client material for tcp endpoints: all three are stored encrypted, never shown or logged
    # (the certificate says which engine the panel trusts and who it presents itself as).
    tls_ca = EncryptedTextField(
        blank=True, help_text="PEM of the CA that signed the engine's certificate; stored encrypted."
    )
    tls_cert = EncryptedTextField(blank=True, help_text="PEM of the client certificate; stored encrypted.")
    tls_key = EncryptedTextField(blank=True, help_text="PEM of the client key; stored encrypted.")
    # The local lab has no IPVS and no NFS: services use dnsrr and a bind filestore.
    is_lab = models.BooleanField(default=False, help_text="The local Swarm lab (made by `manage.py lab up`).")
    # What a new site on this cluster gets when it names no database or Redis image: a cluster that
    # cannot pull Docker Hub (the lab, an air-gapped site) names its own; blank is the public default.
    # db_default: rows written by code from before these columns (a rolling upgrade) still insert.
    default_db_image = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        validators=[v.validate_image],
        help_text="Blank: postgres:16.",
    )
    default_redis_image = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        validators=[v.validate_image],
        help_text="Blank: redis:7-alpine.",
    )
    backup_root = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        validators=[v.validate_backup_root],
        help_text="NFS export server:/path for backups, each site in <path>/<slug>; blank: a node volume.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    status_message = models.TextField(blank=True)
    engine_version = models.CharField(max_length=40, blank=True)
    last_sync = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cluster-detail", args=[self.pk])

    def clean(self) -> None:
        if self.backup_root.startswith("/") and not self.is_lab:
            raise ValidationError({"backup_root": "A host folder is a node's disk: name an NFS export."})
        if self.endpoint.startswith("tcp://"):
            given = [bool(self.tls_ca), bool(self.tls_cert), bool(self.tls_key)]
            if any(given) and not all(given):
                raise ValidationError(
                    "For TLS give all three: the CA, the client certificate and the client key."
                )
            if not any(given):
                raise ValidationError(
                    {
                        "endpoint": "A tcp endpoint needs TLS client certificates: an engine without TLS "
                        "on the network gives root to anyone who reaches it."
                    }
                )


class Node(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    node_id = models.CharField(max_length=64)
    hostname = models.CharField(max_length=253)
    role = models.CharField(max_length=20)
    availability = models.CharField(max_length=20)
    state = models.CharField(max_length=20)
    address = models.CharField(max_length=64, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    engine_version = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "hostname"]
        constraints = [models.UniqueConstraint(fields=["cluster", "node_id"], name="node_unique_in_cluster")]

    def __str__(self) -> str:
        return f"{self.hostname} ({self.role})"

    @property
    def is_ready(self) -> bool:
        return self.state == "ready" and self.availability == "active"


class Site(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Not deployed"
        DEPLOYING = "deploying", "Deploying"
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"
        UPDATING = "updating", "Updating modules"

    class Filestore(models.TextChoices):
        NFS = "nfs", "NFS export (production)"
        BIND = "bind", "Host folder shared by every node (lab)"

    class DatabaseOrigin(models.TextChoices):
        UNKNOWN = "", "Not deployed yet"
        PANEL = "panel", "Initialised by the panel"
        EXISTING = "existing", "An existing database (adopted)"

    class TraefikVersion(models.TextChoices):
        V3 = "v3", "Traefik v3"
        V2 = "v2", "Traefik v2"

    SERIES = [("16.0", "16.0"), ("17.0", "17.0"), ("18.0", "18.0"), ("19.0", "19.0")]
    SESSION_STORES = [
        ("", "The series' own (session_redis up to 18.0, session_db on 19.0)"),
        ("session_redis", "session_redis: sessions in the site's Redis (16.0-18.0)"),
        ("session_db", "session_db: sessions in the site's database (OCA, 16.0-19.0)"),
    ]

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="sites")
    slug = models.CharField(
        max_length=v.SLUG_MAX,
        unique=True,
        validators=[v.validate_slug],
        help_text="Names the Swarm services: <slug>_odoo, <slug>_db, <slug>_redis.",
    )
    name = models.CharField(max_length=100, blank=True)
    series = models.CharField(max_length=5, choices=SERIES, default="19.0")
    session_store = models.CharField(
        max_length=20,
        choices=SESSION_STORES,
        blank=True,
        default="",
        help_text="How the replicas share logins: a server-wide addon your image must carry.",
    )
    image = models.CharField(max_length=255, validators=[v.validate_image], help_text="repo:tag")
    image_digest = models.CharField(
        max_length=71, blank=True, validators=[v.validate_digest], help_text="Pinned at the last deploy."
    )
    replicas = models.PositiveSmallIntegerField(
        default=2,
        validators=[
            MinValueValidator(1, "At least 1 replica."),
            MaxValueValidator(20, "At most 20 replicas."),
        ],
    )
    workers = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(64, "At most 64 Odoo workers per replica.")],
        help_text="Odoo --workers; 0 runs threaded. Above 0 the /websocket route goes to port 8072.",
    )
    db_name = models.CharField(max_length=63, validators=[v.validate_db_name])
    db_node = models.CharField(
        max_length=253,
        validators=[v.validate_hostname],
        help_text="Hostname of the node that holds the database's data; the database is pinned there.",
    )
    db_password = EncryptedTextField(blank=True, help_text="Stored encrypted; generated when empty.")
    redis_password = EncryptedTextField(  # the site's Redis requires it (clusters/stack/secrets.py)
        blank=True, default="", db_default="", help_text="Stored encrypted; generated when empty."
    )
    # What a database the panel initialises starts with (`odoo db init`); unused for an adopted one.
    admin_password = EncryptedTextField(
        blank=True,
        default="",
        db_default="",
        help_text="Odoo's admin password for a database the panel creates; generated, stored encrypted.",
    )
    language = models.CharField(
        max_length=16,
        default="en_US",
        db_default="en_US",
        validators=[v.validate_language],
        help_text="e.g. en_US, fr_BE.",
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        default="",
        db_default="",
        validators=[v.validate_country],
        help_text="The main company's, e.g. BE.",
    )
    with_demo = models.BooleanField(
        default=False, db_default=False, help_text="Load demo data into a new database."
    )
    database_origin = models.CharField(
        max_length=10, choices=DatabaseOrigin.choices, blank=True, default="", db_default=""
    )
    # What the pinned image (image_digest) is, read from it at the deploy: {"uid", "gid", "version",
    # "filestore_owner"} (the uid:gid the filestore was last given).
    image_facts = models.JSONField(default=dict, blank=True, db_default={})
    db_image = models.CharField(max_length=255, default="postgres:16", validators=[v.validate_image])
    redis_image = models.CharField(max_length=255, default="redis:7-alpine", validators=[v.validate_image])
    registry_username = models.CharField(
        max_length=150,
        blank=True,
        help_text="For a private registry: used to resolve the image's digest. Sent only to the registry "
        "the image was on when the password was entered; moving the image to another registry asks for "
        "the password again (or a blank username: no credentials).",
    )
    registry_password = EncryptedTextField(blank=True, help_text="Stored encrypted.")
    # The registry (lower-case host[:port], "docker.io" for Docker Hub) the credentials were entered for:
    # they are sent there and nowhere else (clusters/sites/registry_auth.py), whatever the image says now.
    registry_host = models.CharField(max_length=255, blank=True, default="", db_default="", editable=False)
    filestore_kind = models.CharField(max_length=10, choices=Filestore.choices, default=Filestore.NFS)
    nfs_server = models.CharField(max_length=253, blank=True, validators=[v.validate_hostname])
    nfs_export = models.CharField(max_length=255, blank=True, validators=[v.validate_absolute_path])
    nfs_options = models.CharField(
        max_length=255, blank=True, default="rw,nfsvers=4,hard", validators=[v.validate_nfs_options]
    )
    bind_path = models.CharField(max_length=255, blank=True, validators=[v.validate_absolute_path])
    addons_path = models.CharField(
        max_length=1000,
        blank=True,
        default="/mnt/extra-addons",
        validators=[v.validate_addons_path],
        help_text="Absolute paths inside the image, separated by commas.",
    )
    traefik_version = models.CharField(
        max_length=2, choices=TraefikVersion.choices, default=TraefikVersion.V3
    )
    traefik_entrypoint = models.CharField(
        max_length=40, default="websecure", validators=[v.validate_traefik_entrypoint]
    )
    traefik_certresolver = models.CharField(
        max_length=40, blank=True, default="le", validators=[v.validate_traefik_certresolver]
    )
    traefik_network = models.CharField(
        max_length=63, blank=True, default="traefik-public", validators=[v.validate_traefik_network]
    )
    sticky_cookie = models.CharField(
        max_length=64, default="odoo_sticky", validators=[v.validate_cookie_name]
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    running_replicas = models.PositiveSmallIntegerField(default=0)
    # Stored by the drift check (beat and on demand) so the dashboard never waits on an engine.
    drift = models.JSONField(default=list, blank=True)
    pending = models.JSONField(default=dict, blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    # ir_module_module as last read from the site's database: name -> [state, latest_version].
    installed_modules = models.JSONField(default=dict, blank=True)
    # ir_module_module_dependency of the same read: name -> [direct depends] (the gate's blast radius).
    module_depends = models.JSONField(default=dict, blank=True)
    modules_read_at = models.DateTimeField(null=True, blank=True)
    # Checksums of the addon folders at the last successful update (click-odoo-update's idea).
    module_checksums = models.JSONField(default=dict, blank=True)
    rehearsal_required = models.BooleanField(  # clusters/sites/module_update/policy.py
        default=False,
        db_default=False,
        verbose_name="Updates need a green rehearsal of the same digest and modules",
        help_text="A module update is refused unless the newest rehearsal of its digest and modules passed "
        "(an admin may override, in writing). Operators may turn it on; only an admin turns it off.",
    )
    # Scheduled backups (clusters/sites/backups/): every N hours (0: off), thinned grandfather-father-son.
    backup_interval_hours = models.PositiveSmallIntegerField(
        default=24, db_default=24, blank=True, help_text="Hours between scheduled backups; 0 turns them off."
    )
    backup_keep_daily = models.PositiveSmallIntegerField(default=7, db_default=7, blank=True)
    backup_keep_weekly = models.PositiveSmallIntegerField(default=4, db_default=4, blank=True)
    backup_keep_monthly = models.PositiveSmallIntegerField(default=3, db_default=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        indexes = [models.Index(fields=["cluster", "slug"])]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.db_password:
            self.db_password = Secret(secrets.token_urlsafe(24))
        if not self.admin_password:
            self.admin_password = Secret(secrets.token_urlsafe(18))
        if not self.redis_password:
            self.redis_password = Secret(secrets.token_urlsafe(24))
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("site-detail", args=[self.slug])

    def installed_for_gate(self) -> dict[str, dict[str, Any]]:
        """Installed modules with version and depends, in the form the gate reads."""
        return {
            name: {"version": version or None, "depends": self.module_depends.get(name, [])}
            for name, (state, version) in self.installed_modules.items()
            if state == "installed"
        }

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.filestore_kind == self.Filestore.NFS:
            if not self.nfs_server:
                errors["nfs_server"] = "An NFS filestore needs the server's host name."
            if not self.nfs_export:
                errors["nfs_export"] = "An NFS filestore needs the exported path."
        else:
            errors.update(self._bind_problems())
        if problem := self._db_node_problem():
            errors["db_node"] = problem
        if errors:
            raise ValidationError(errors)

    def _bind_problems(self) -> dict[str, str]:
        """A host folder is only for the lab, whose nodes share one disk; anywhere else it mounts a node's
        own disk into an image the operator chose (root on the node). The renderer refuses the same
        (clusters/stack/host_access.py), so a row stored by other means still never renders."""
        if not self.bind_path:
            return {"bind_path": "A shared host folder needs its path."}
        errors: dict[str, str] = {}
        if self.cluster_id and not self.cluster.is_lab:
            errors["filestore_kind"] = (
                f"A host folder filestore is only for the lab: on cluster {self.cluster.name} it would mount "
                "a node's own disk into the site's containers. Use an NFS export."
            )
        try:
            v.validate_bind_path(self.bind_path)
        except ValidationError as exc:
            errors["bind_path"] = " ".join(exc.messages)
        return errors

    def _db_node_problem(self) -> str | None:
        """Why db_node names no node of the cluster, or None.

        The database service is pinned with node.hostname==<db_node>; a name no node has leaves it
        pending forever. The check reads the Node rows of the cluster's last sync, so it never waits
        on an engine. A cluster with none synced yet (new, or never reached) has nothing to check
        against and any well-formed host name is accepted; saving the site again after a sync checks
        it. The comparison is exact, as the hostnames are stored as the engine reported them.
        """
        if not self.cluster_id or not self.db_node:
            return None
        known = list(Node.objects.filter(cluster_id=self.cluster_id).values_list("hostname", flat=True))
        if not known or self.db_node in known:
            return None
        return (
            f"{self.db_node!r} is not a node of this cluster; its nodes (at the last sync) are: "
            f"{', '.join(sorted(set(known)))}."
        )


class Domain(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="domains")
    # Unique across all sites; always stored lower-case (DNS names are case-insensitive).
    name = models.CharField(max_length=253, unique=True, validators=[v.validate_fqdn])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.name = v.normalize_fqdn(self.name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean_fields(self, exclude: object = None) -> None:
        self.name = v.normalize_fqdn(self.name or "")
        super().clean_fields(exclude=exclude)  # type: ignore[arg-type]

    def validate_unique(self, exclude: object = None) -> None:
        # The default message ("Domain with this Name already exists") would not say where.
        super().validate_unique(exclude={*(exclude or ()), "name"})  # type: ignore[misc]
        clash = Domain.objects.filter(name=self.name).exclude(pk=self.pk).select_related("site").first()
        if clash:
            raise ValidationError({"name": f"{self.name} is already a domain of site {clash.site.slug}."})
