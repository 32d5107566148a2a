"""What each value of a site may look like: the patterns and the `*_problem` rules, written once.

Every value ends up in a Swarm service name, a placement constraint, a Traefik rule or an Odoo command line,
so each is held to the narrowest shape that works there. SiteSpec applies these rules when a site is
rendered, and clusters/validators.py applies the same ones when a site is saved, so a value is refused with
the same rule (and, for the `*_problem` functions, the same message) in both places.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")
SLUG_MAX = 30  # `<slug>_update_<run id>` must fit in a 63-character Swarm service name
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
IMAGE_RE = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?"
    r"(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?\Z"
)
DB_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}\Z")
HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\Z")
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # cookie, entrypoint, cert resolver, network names
# Odoo language codes (en_US, fr_BE, sr@latin, es_419) and ISO 3166 country codes: what a new database
# is initialised with (`odoo db init --language --country`).
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:_(?:[A-Z]{2}|[0-9]{3}))?(?:@[a-z]{1,10})?\Z")
COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")
MODULE_RE = re.compile(r"^[a-z0-9_]+\Z")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
SERIES_RE = re.compile(r"^(\d{2})\.0\Z")
PG_USER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}\Z")


DOCKER_HUB = "docker.io"
# What Docker Hub is also called in an image reference or a `docker login`; all of them are one registry.
DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})


def image_registry(image: str) -> str:
    """The registry an image reference names, as lower-case host[:port]; Docker Hub is "docker.io".

    Docker's own rule: the part before the first '/' is a registry when it holds a '.' or a ':', is
    `localhost`, or has an upper-case letter (a repository never does); otherwise (`odoo:17.0`,
    `library/odoo`) the image is on Docker Hub. IMAGE_RE's `registry` group cannot tell: it takes
    `library` for a host."""
    first, slash, _ = image.strip().partition("/")
    if not slash or not (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        return DOCKER_HUB
    host = first.lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


class SpecError(ValueError):
    """A SiteSpec (or a task request) that cannot be rendered safely; the message is meant for ops."""


def has_control(value: str) -> bool:
    """A newline, tab, NUL or other control character: never part of a name, path or option (a
    newline in a domain would split a Traefik rule; `$` in a regex lets one through at the end)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def normalize_domain(value: str) -> str:
    return value.strip().rstrip(".").lower()


def domain_problem(name: str) -> str | None:
    """Why `name` is not a lower-case FQDN Traefik can route, or None.
    Wildcards are refused: Traefik matches them only from v3.7 on."""
    if not name:
        return "an empty domain name"
    if has_control(name):
        return f"{name!r} holds a control character (a newline, a tab)"
    if name != name.lower():
        return f"{name!r} is not lower-case"
    if "*" in name:
        return f"{name!r} is a wildcard; list each host name of the site"
    if len(name) > 253:
        return f"{name!r} is longer than 253 characters"
    labels = name.split(".")
    if len(labels) < 2:
        return f"{name!r} is not a fully qualified domain name"
    if not all(DNS_LABEL_RE.match(label) for label in labels):
        return f"{name!r} is not a valid domain name"
    if labels[-1].isdigit():
        return f"{name!r} looks like an IP address"
    return None


def token_problem(value: str, what: str) -> str | None:
    """Why `value` cannot name a Traefik entrypoint, cert resolver, network or sticky cookie, or None.
    These names go into Traefik labels and Swarm network names, unquoted."""
    if not TOKEN_RE.match(value):
        return f"{what} {value!r}: use only letters, digits, _ or - (1 to 64 characters)."
    return None


def nfs_options_problem(options: str) -> str | None:
    """Why `options` cannot be the NFS mount options of the filestore volume, or None. addr= is refused
    because the panel writes it from the server's name; bind and rbind because they reach the host."""
    names = {part.split("=", 1)[0].strip().lower() for part in options.split(",")}
    if "addr" in names or has_control(options) or any(c in options for c in " \"'"):
        return (
            "NFS options are comma-separated mount options such as rw,nfsvers=4,hard, with no spaces or "
            "quotes and no addr= (the panel adds the server's address)."
        )
    if names & {"bind", "rbind"}:
        # The local volume driver hands these to mount(2) as MS_BIND: a node's folder, not the export.
        return "NFS options may not include bind or rbind: they would mount a folder of the node instead."
    return None


def split_addons_path(value: str) -> tuple[str, ...]:
    """'/mnt/a, /mnt/b,' -> ('/mnt/a', '/mnt/b'): the panel stores Odoo's comma-separated form."""
    return tuple(p.strip() for p in value.split(",") if p.strip())


def addons_path_problem(entries: Iterable[str]) -> str | None:
    """Why one of `entries` cannot go into Odoo's --addons-path, or None."""
    for entry in entries:
        if not is_plain_abs_path(entry):
            return (
                f"addons path entry {entry!r}: use absolute paths without '..' or ':', separated by "
                "commas (e.g. /mnt/extra-addons,/mnt/oca)."
            )
    return None


def validate_modules(modules: Iterable[str]) -> tuple[str, ...]:
    """Plain module names only, de-duplicated in order. `all` and `base` are refused: `-u base` cascades to
    every installed module, which is `-u all` in disguise, and the panel never runs `-u all`."""
    names: list[str] = []
    for raw in modules:
        name = raw.strip()
        if not MODULE_RE.match(name):
            raise SpecError(f"{raw!r} is not a plain module name (lower-case letters, digits and _).")
        if name in ("all", "base"):
            raise SpecError(
                f"refusing to update {name!r}: it updates every installed module; name the modules."
            )
        if name not in names:
            names.append(name)
    if not names:
        raise SpecError("name at least one module to update.")
    return tuple(names)


def is_plain_abs_path(value: str) -> bool:
    """Absolute, no '..' segment, and nothing that separates values in a volume or Odoo option."""
    return (
        value.startswith("/")
        and not has_control(value)
        and "/../" not in f"{value}/"
        and "," not in value
        and ":" not in value
    )


def check_abs_path(value: str, what: str) -> None:
    if not is_plain_abs_path(value):
        raise SpecError(f"{what} {value!r} must be an absolute path without '..', ',' or ':'.")
