"""The edge of a cluster: the Traefik the panel deploys in front of every site on it."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clusters import validators as v
from clusters.certs import CertificateError, CertificateInfo, certificate_info
from panel.crypto import EncryptedTextField

SERVICE_NAME = "panel-edge"
#: What an admin sets (the page's form, `cluster edge deploy --flag`); the rest is Traefik's state.
EDGE_SETTINGS = (
    "image",
    "network",
    "http_port",
    "https_port",
    "api_port",
    "api_host",
    "acme_email",
    "refresh_seconds",
    "maintenance_image",
    "default_cert",
    "default_key",
)
PORT = [MinValueValidator(1), MaxValueValidator(65535)]


class Edge(models.Model):
    """One per cluster. Its spec is built by the panel from these fields alone (clusters/edge/render.py):
    Traefik needs the manager's engine socket to read the Swarm, so nothing an operator types for a
    site ever reaches it."""

    class Status(models.TextChoices):
        NEW = "new", "Not deployed"
        UP = "up", "Answering"
        DOWN = "down", "Not answering"

    cluster = models.OneToOneField("clusters.Cluster", on_delete=models.CASCADE, related_name="edge")
    image = models.CharField(
        max_length=255, default="traefik:v3.7", validators=[v.validate_image], help_text="Traefik v3."
    )
    network = models.CharField(
        max_length=63,
        default="traefik-public",
        validators=[v.validate_traefik_network],
        help_text="The overlay Traefik shares with the sites (their traefik_network).",
    )
    http_port = models.PositiveIntegerField(default=80, validators=PORT)
    https_port = models.PositiveIntegerField(default=443, validators=PORT)
    api_port = models.PositiveIntegerField(
        default=8099,
        validators=PORT,
        help_text="Traefik's API and ping, published on the manager for the panel: firewall it from "
        "everyone else.",
    )
    api_host = models.CharField(
        max_length=253,
        blank=True,
        validators=[v.validate_hostname],
        help_text="Where the panel reaches the manager's published ports; blank: the endpoint's host.",
    )
    acme_email = models.EmailField(
        blank=True, help_text="Let's Encrypt account (resolver `le`); blank: Traefik's default certificate."
    )
    refresh_seconds = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="How often Traefik reads the Swarm (its default, 15 s, routes a site's changes late).",
    )
    maintenance_image = models.CharField(
        max_length=255,
        default="python:3.12-alpine",
        validators=[v.validate_image],
        help_text="Any image with python3: it runs the maintenance page (clusters/edge/maintenance.py).",
    )
    default_cert = models.TextField(
        blank=True,
        validators=[v.validate_certificate_pem],
        help_text="PEM of the certificate (and its chain) Traefik serves for a name no other certificate "
        "covers, e.g. a wildcard of your sites' domain; blank: Traefik's own self-signed one.",
    )
    default_key = EncryptedTextField(blank=True, help_text="PEM of its private key; stored encrypted.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    status_message = models.TextField(blank=True)
    version = models.CharField(max_length=40, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"edge of {self.cluster}"

    @property
    def default_certificate(self) -> CertificateInfo | None:
        """What the default certificate says of itself (subject, names, validity); None without one."""
        if not self.default_cert:
            return None
        try:
            return certificate_info(self.default_cert)
        except CertificateError:
            return None

    @classmethod
    def of(cls, cluster: object) -> Edge | None:
        """The cluster's edge, or None when the panel runs none there."""
        return cls.objects.filter(cluster=cluster).first()

    @property
    def service_name(self) -> str:
        # One edge per Swarm (it holds the manager's ports 80 and 443), whatever the cluster's name.
        return SERVICE_NAME

    @property
    def address(self) -> str:
        """The host the panel and the lab's clients reach the edge's published ports at."""
        if self.api_host:
            return self.api_host
        host = urlsplit(self.cluster.endpoint).hostname
        return host if host and not self.cluster.endpoint.startswith("unix:") else "127.0.0.1"

    @property
    def api_url(self) -> str:
        return f"http://{self.address}:{self.api_port}"
