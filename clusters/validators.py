"""Validation of what users type, with the message they will see.

Names end up in Swarm service names, Traefik rules, PostgreSQL and Odoo command lines, so each
is held to the narrowest shape that works there; nothing here is ever passed to a shell.
"""

from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from clusters.certs import CertificateError, certificate_info
from clusters.stack import backup_store, host_access, rules
from clusters.stack.rules import (
    COUNTRY_RE,
    DB_NAME_RE,
    DIGEST_RE,
    DNS_LABEL_RE,
    HOSTNAME_RE,
    IMAGE_RE,
    LANGUAGE_RE,
    SLUG_MAX,
    SLUG_RE,
    TOKEN_RE,
)
from clusters.stack.spec import BindFilestore

# The shapes are the stack renderer's (clusters/stack/rules.py), so a value saved here is one the deploy
# accepts; the messages are written for the person typing it.

# Words that are also URL path segments (/sites/new/).
RESERVED_SLUGS = {"new", "edit", "delete"}
ENDPOINT_SCHEMES = ("unix", "tcp", "ssh")


def validate_slug(value: str) -> None:
    if len(value) > SLUG_MAX:
        raise ValidationError(f"Use at most {SLUG_MAX} characters (it prefixes Swarm service names).")
    if not SLUG_RE.match(value):
        raise ValidationError(
            "Use lower-case letters, digits and single hyphens, starting with a letter (e.g. acme-shop)."
        )
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} is reserved; choose another name.")


normalize_fqdn = rules.normalize_domain  # the form in which a domain is stored and rendered


def validate_fqdn(value: str) -> None:
    if rules.has_control(value):
        raise ValidationError("A domain name holds no newline, tab or other control character.")
    name = normalize_fqdn(value)
    if not name:
        raise ValidationError("Enter a domain name such as shop.example.com.")
    if len(name) > 253:
        raise ValidationError("A domain name has at most 253 characters.")
    if "*" in name:
        raise ValidationError("Wildcard domains are not supported: list each host name of the site.")
    labels = name.split(".")
    if len(labels) < 2:
        raise ValidationError(f"{name!r} is not a fully qualified domain name (e.g. shop.example.com).")
    for label in labels:
        if not DNS_LABEL_RE.match(label):
            raise ValidationError(
                f"{name!r} is not a valid domain name: each part uses letters, digits and inner hyphens, "
                "1 to 63 characters."
            )
    if labels[-1].isdigit():
        raise ValidationError(f"{name!r} looks like an IP address; enter a domain name.")


def validate_image(value: str) -> None:
    if "@" in value:
        raise ValidationError(
            "Enter the image by tag (repo:tag); the panel resolves and pins the digest itself."
        )
    if not IMAGE_RE.match(value):
        raise ValidationError("Enter an image reference such as registry.example.com/odoo:19.0.")


def validate_digest(value: str) -> None:
    if value and not DIGEST_RE.match(value):
        raise ValidationError("A digest looks like sha256: followed by 64 hexadecimal characters.")


def validate_db_name(value: str) -> None:
    if not DB_NAME_RE.match(value):
        raise ValidationError(
            "Use a letter then letters, digits, _ or -, at most 63 characters (a PostgreSQL database name)."
        )


def validate_language(value: str) -> None:
    if not LANGUAGE_RE.match(value):
        raise ValidationError("Use an Odoo language code such as en_US, fr_BE or sr@latin.")


def validate_country(value: str) -> None:
    if value and not COUNTRY_RE.match(value):
        raise ValidationError("Use a two-letter country code in capitals, such as BE or US, or none.")


def validate_hostname(value: str) -> None:
    if not HOSTNAME_RE.match(value) or len(value) > 253:
        raise ValidationError(f"{value!r} is not a valid host name.")


def validate_cookie_name(value: str) -> None:
    if not TOKEN_RE.match(value):
        raise ValidationError("Use letters, digits, _ or -, at most 64 characters.")


def validate_absolute_path(value: str) -> None:
    if not value.startswith("/") or rules.has_control(value) or "/../" in f"{value}/":
        raise ValidationError("Enter an absolute path without '..', such as /srv/odoo/filestore.")


# The next six call the rules the stack renderer applies (clusters/stack/rules.py), so a value saved
# here is one the deploy accepts, and the message is the one the deploy would give.


def _refuse(problem: str | None) -> None:
    if problem:
        raise ValidationError(problem[:1].upper() + problem[1:])


def validate_traefik_entrypoint(value: str) -> None:
    _refuse(rules.token_problem(value, "Traefik entrypoint"))


def validate_traefik_certresolver(value: str) -> None:
    _refuse(rules.token_problem(value, "Traefik cert resolver"))


def validate_traefik_network(value: str) -> None:
    _refuse(rules.token_problem(value, "Traefik network") or host_access.network_problem(value))


def validate_bind_path(value: str) -> None:
    """A host folder for a lab filestore: never a system folder of the node, nor one holding one
    (the renderer's own rule, clusters/stack/host_access.py). Whether the site's cluster is a lab is
    the model's check: it needs the cluster. Nor the lab's backup root or a folder holding it: every
    lab site's dumps would be in that site's containers, read-write."""
    _refuse(host_access.bind_path_problem(value))
    path, backups = PurePosixPath(value), PurePosixPath(settings.LAB_BACKUP_ROOT)
    if path == backups or backups in path.parents or path in backups.parents:
        raise ValidationError(
            f"{value} holds or is inside the lab's backups ({backups}): choose another folder."
        )


def validate_backup_root(value: str) -> None:
    """A cluster's backup root: an NFS export `server:/path`, or a lab host folder held to the host
    rule of a lab filestore (clusters/stack/backup_store.py)."""
    try:
        store = backup_store.parse_backup_root(value)
    except rules.SpecError as exc:
        raise ValidationError(str(exc)) from exc
    if isinstance(store, BindFilestore):
        _refuse(host_access.bind_path_problem(store.path))


def validate_nfs_options(value: str) -> None:
    _refuse(rules.nfs_options_problem(value))


def validate_addons_path(value: str) -> None:
    _refuse(rules.addons_path_problem(rules.split_addons_path(value)))


def validate_endpoint(value: str) -> None:
    if rules.has_control(value):
        raise ValidationError("An engine address holds no newline, tab or other control character.")
    parts = urlsplit(value)
    if parts.scheme not in ENDPOINT_SCHEMES:
        raise ValidationError(
            "Use unix:///var/run/docker.sock, tcp://host:2376 (with TLS certificates) or ssh://user@host."
        )
    if parts.scheme == "unix":
        if not parts.path.startswith("/"):
            raise ValidationError(
                "A unix endpoint names an absolute socket path: unix:///var/run/docker.sock."
            )
        return
    if not parts.hostname:
        raise ValidationError(f"{value!r} names no host.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{value!r} has an invalid port.") from exc
    if parts.scheme == "tcp" and port is None:
        raise ValidationError("A tcp endpoint needs a port, such as tcp://manager.example.com:2376.")


def validate_certificate_pem(value: str) -> None:
    """A PEM certificate (chain) the edge can serve; whether its key matches is the form's check."""
    if not value.strip():
        return
    try:
        certificate_info(value)
    except CertificateError as exc:
        raise ValidationError(str(exc)) from exc
