"""`SiteSpec`: everything the renderer needs to know about one site, validated, with no Django in sight.

The panel builds a SiteSpec from its Site/Domain/Cluster rows. Validation here is the last line of defence:
each value is held to the rules of clusters/stack/rules.py, which clusters/validators.py applies too, so a
Site is refused by the same rule when it is saved as when it is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from clusters.stack import names
from clusters.stack.rules import (
    DB_NAME_RE,
    DIGEST_RE,
    ENV_KEY_RE,
    HOSTNAME_RE,
    IMAGE_RE,
    MODULE_RE,
    PG_USER_RE,
    SERIES_RE,
    SLUG_MAX,
    SLUG_RE,
    SpecError,
    addons_path_problem,
    check_abs_path,
    domain_problem,
    nfs_options_problem,
    normalize_domain,
    split_addons_path,
    token_problem,
    validate_modules,
)

# Names callers import from here; the rules themselves live in clusters/stack/rules.py.
__all__ = [
    "MANAGED_ENV_KEYS",
    "ODOO_GEVENT_PORT",
    "ODOO_HTTP_PORT",
    "PG_PORT",
    "REDIS_PORT",
    "SESSION_STORES",
    "BindFilestore",
    "NfsFilestore",
    "SessionStore",
    "SiteSpec",
    "SpecError",
    "TraefikSpec",
    "default_session_store",
    "ns",
    "pinned_ref",
    "split_addons_path",
    "split_image",
    "validate_modules",
]

ODOO_HTTP_PORT = 8069
ODOO_GEVENT_PORT = 8072
PG_PORT = 5432
REDIS_PORT = 6379

# Environment keys the renderer owns (the database connection the official image's entrypoint reads;
# what the session store reads); `extra_env` may not override them.
MANAGED_ENV_KEYS = frozenset(
    {"HOST", "PORT", "USER", "PASSWORD", "PASSWORD_FILE", "SESSION_DB_URI"}
    | {f"ODOO_SESSION_REDIS{s}" for s in ("", "_HOST", "_PORT", "_PREFIX", "_PASSWORD")}
)
# What the panel generates (secrets.token_urlsafe): safe unquoted in redis.conf.
REDIS_PASSWORD_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")

# How the replicas of a site share HTTP sessions: a server-wide addon the image must carry.
# camptocamp's session_redis has releases up to 18.0 (its 18.0 module on 19 answers 500 to every
# request); OCA's session_db has a 19.0 release and keeps sessions in the site's own PostgreSQL.
SESSION_STORES = ("session_redis", "session_db")
SessionStore = Literal["session_redis", "session_db"]


def default_session_store(series: str) -> SessionStore:
    return "session_db" if int(series.split(".")[0]) >= 19 else "session_redis"


def ns(seconds: float) -> int:
    """Seconds -> integer nanoseconds: docker-py takes every Swarm duration in ns."""
    return int(round(seconds * 1_000_000_000))


def split_image(ref: str) -> tuple[str, str | None]:
    """'registry:5000/odoo:17.0' -> ('registry:5000/odoo', '17.0'); a ':' before the last '/' is a port."""
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail:
        return head, tail
    return ref, None


def pinned_ref(image: str, digest: str | None) -> str:
    """`repo@sha256:...` when the digest is known (without it, a node may run whatever image it has cached
    under the tag)."""
    return f"{split_image(image)[0]}@{digest}" if digest else image


@dataclass(frozen=True)
class NfsFilestore:
    """Production filestore: NFS options on the service's own volume mount, so every node that gets a task
    mounts the export itself (Swarm never propagates a `docker volume create` to the other nodes)."""

    server: str
    export: str
    options: str = "rw,nfsvers=4,hard"

    def __post_init__(self) -> None:
        if not HOSTNAME_RE.match(self.server):
            raise SpecError(f"NFS server {self.server!r} is not a host name or IPv4 address.")
        check_abs_path(self.export, "NFS export")
        if problem := nfs_options_problem(self.options):
            raise SpecError(problem)

    @property
    def volume_options(self) -> dict[str, str]:
        opts = f"addr={self.server},{self.options}" if self.options else f"addr={self.server}"
        return {"type": "nfs", "o": opts, "device": f":{self.export}"}


@dataclass(frozen=True)
class BindFilestore:
    """Lab filestore: a host folder bind-mounted into every replica. Only shared because all lab nodes live on
    one machine's disk (the lab kernel has no NFS). Anything else would mount a node's own disk: the
    renderer refuses it outside the lab, and system folders everywhere (clusters/stack/host_access.py)."""

    path: str

    def __post_init__(self) -> None:
        check_abs_path(self.path, "bind path")


@dataclass(frozen=True)
class TraefikSpec:
    """How Traefik reaches the site. `network` is Traefik's overlay; None means Traefik is attached to the
    site's own network by hand. lbswarm is never set: it would bypass sticky cookies."""

    version: Literal["v3", "v2"] = "v3"
    entrypoint: str = "websecure"
    certresolver: str | None = None
    tls: bool = True
    network: str | None = None
    sticky_cookie: str = "odoo_sticky"
    samesite: Literal["lax", "strict", "none"] = "lax"
    # Middlewares on the site's router, e.g. the edge's error pages (502-504 -> its maintenance page).
    middlewares: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.version not in ("v3", "v2"):
            raise SpecError(f"Traefik version must be v3 or v2, not {self.version!r}.")
        for what, opt in (
            ("Traefik entrypoint", self.entrypoint),
            ("Traefik sticky cookie", self.sticky_cookie),
            ("Traefik cert resolver", self.certresolver),
            ("Traefik network", self.network),
        ):
            if opt is not None and (problem := token_problem(opt, what)):
                raise SpecError(problem)
        if self.samesite not in ("lax", "strict", "none"):
            raise SpecError("sticky cookie samesite must be lax, strict or none.")


@dataclass(frozen=True)
class SiteSpec:
    """One Odoo site on one Swarm cluster. Lists may be given as any iterable; they are stored as tuples."""

    slug: str
    image: str
    db_name: str
    db_node: str
    db_password: str = field(repr=False)
    filestore: NfsFilestore | BindFilestore
    redis_password: str = field(repr=False)  # the site's Redis requires it (redis.conf secret)
    domains: tuple[str, ...] = ()
    cluster_mode: Literal["production", "lab"] = "production"
    lab_filestore_root: str | None = None  # in the lab, bind filestores must lie inside it (when known)
    # The site's folder under its cluster's backup root (clusters/stack/backup_store.py); None: the
    # node-local volume `<slug>_backups` on the database's node (backups from before backup roots).
    backup_store: NfsFilestore | BindFilestore | None = None
    image_digest: str | None = None
    replicas: int = 2
    workers: int = 0
    max_cron_threads: int = 2
    series: str = "19.0"
    session_store: SessionStore | None = None  # None: the default for the series
    db_user: str = "odoo"
    db_image: str = "postgres:16"
    db_image_digest: str | None = None
    redis_image: str = "redis:7-alpine"
    redis_image_digest: str | None = None
    data_dir: str = "/var/lib/odoo"
    addons_path: tuple[str, ...] = ("/mnt/extra-addons",)
    server_wide_modules: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict, hash=False)
    extra_args: tuple[str, ...] = ()
    traefik: TraefikSpec = field(default_factory=TraefikSpec)
    health_cmd: tuple[str, ...] | None = None
    health_check_db: bool = False
    health_interval_s: int = 30
    health_timeout_s: int = 10
    health_retries: int = 3
    health_start_period_s: int = 180
    # How often to check while a task starts. Engines from Docker 25.0 (API 1.44) honour StartInterval;
    # on older ones the interval itself is shortened to it (service_parts.health_timing).
    health_start_interval_s: int = 2
    engine_start_interval: bool = False  # every node's engine honours StartInterval
    update_monitor_s: int = 60
    update_delay_s: int = 10
    stop_grace_period_s: int = 30

    def __post_init__(self) -> None:
        self._normalize()
        self._check_site()
        self._check_images()
        self._check_database()
        self._check_filestore_and_domains()
        self._check_odoo()
        self._check_odoo_options()
        self._check_durations()

    def _normalize(self) -> None:
        for name in ("domains", "addons_path", "server_wide_modules", "extra_args"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.health_cmd is not None:
            object.__setattr__(self, "health_cmd", tuple(self.health_cmd))
        object.__setattr__(self, "extra_env", dict(self.extra_env))
        object.__setattr__(self, "domains", tuple(dict.fromkeys(normalize_domain(d) for d in self.domains)))

    def _check_site(self) -> None:
        if len(self.slug) > SLUG_MAX or not SLUG_RE.match(self.slug):
            raise SpecError(
                f"slug {self.slug!r}: lower-case letters, digits, single hyphens, <= {SLUG_MAX} chars."
            )
        if self.cluster_mode not in ("production", "lab"):
            raise SpecError(f"cluster_mode must be production or lab, not {self.cluster_mode!r}.")
        if self.lab_filestore_root is not None:
            check_abs_path(self.lab_filestore_root, "lab filestore root")

    def _check_images(self) -> None:
        images = (
            ("image", self.image, self.image_digest),
            ("db image", self.db_image, self.db_image_digest),
            ("redis image", self.redis_image, self.redis_image_digest),
        )
        for what, ref, _ in images:
            if not IMAGE_RE.match(ref):
                raise SpecError(f"{what} {ref!r} is not repo[:tag] (the digest goes in its own field).")
        for what, _, dig in images:
            if dig is not None and not DIGEST_RE.match(dig):
                raise SpecError(f"{what} digest {dig!r} is not sha256:<64 hex>.")

    def _check_database(self) -> None:
        if not DB_NAME_RE.match(self.db_name):
            raise SpecError(f"database name {self.db_name!r} is not a plain PostgreSQL name.")
        if not HOSTNAME_RE.match(self.db_node):
            raise SpecError(f"db node {self.db_node!r} is not a host name (it goes into node.hostname==).")
        if not PG_USER_RE.match(self.db_user) or self.db_user == "postgres":
            raise SpecError(
                f"db user {self.db_user!r}: a plain name other than postgres (Odoo refuses postgres)."
            )
        if not self.db_password:
            raise SpecError("db password is empty (the postgres image refuses to start without one).")
        if not REDIS_PASSWORD_RE.fullmatch(self.redis_password):
            raise SpecError("redis password: 16-128 letters, digits, '_' or '-' (the panel generates it).")

    def _check_filestore_and_domains(self) -> None:
        if not isinstance(self.filestore, NfsFilestore | BindFilestore):
            raise SpecError("filestore must be NfsFilestore or BindFilestore.")
        if not isinstance(self.backup_store, NfsFilestore | BindFilestore | None):
            raise SpecError("backup store must be NfsFilestore, BindFilestore or None.")
        for problem in filter(None, map(domain_problem, self.domains)):
            raise SpecError(f"domain: {problem}.")

    def _check_odoo(self) -> None:
        m = SERIES_RE.match(self.series)
        if not m or int(m.group(1)) < 16:
            raise SpecError(f"series {self.series!r}: 16.0 or later (the /websocket route is 16+).")
        if self.session_store is not None and self.session_store not in SESSION_STORES:
            raise SpecError(f"session store {self.session_store!r}: one of {', '.join(SESSION_STORES)}.")
        if self.replicas < 0 or self.workers < 0:
            raise SpecError("replicas and workers cannot be negative.")
        if self.max_cron_threads < 1:
            raise SpecError("max_cron_threads must be at least 1 (it runs on the single cron replica).")
        check_abs_path(self.data_dir, "data dir")
        if bad_path := addons_path_problem(self.addons_path):
            raise SpecError(bad_path)
        for mod in self.server_wide_modules:
            if not MODULE_RE.match(mod):
                raise SpecError(f"server-wide module {mod!r} is not a plain module name.")

    def _check_odoo_options(self) -> None:
        for key in self.extra_env:
            if not ENV_KEY_RE.match(key):
                raise SpecError(f"environment key {key!r} is not a plain name.")
            if key in MANAGED_ENV_KEYS:
                raise SpecError(f"environment key {key} is set by the panel and cannot be overridden.")
        for arg in self.extra_args:
            if not arg.startswith("--") or arg.split("=")[0] in _MANAGED_ARGS:
                raise SpecError(
                    f"extra Odoo option {arg!r}: --name=value options only, not one the panel sets."
                )

    def _check_durations(self) -> None:
        positive = (
            self.health_interval_s,
            self.health_timeout_s,
            self.health_retries,
            self.health_start_period_s,
            self.health_start_interval_s,
            self.update_monitor_s,
        )
        if min(positive) < 1 or min(self.update_delay_s, self.stop_grace_period_s) < 0:
            raise SpecError("health and update durations must be positive.")

    # --- names ---
    def service_name(self, role: str) -> str:
        return names.service_name(self.slug, role)

    @property
    def network_name(self) -> str:
        return names.network_name(self.slug)

    @property
    def odoo_image_ref(self) -> str:
        return pinned_ref(self.image, self.image_digest)

    @property
    def db_image_ref(self) -> str:
        return pinned_ref(self.db_image, self.db_image_digest)

    @property
    def sessions(self) -> SessionStore:
        """The session store's addon: the one chosen, else the one that exists for the series."""
        return self.session_store or default_session_store(self.series)

    @property
    def server_wide(self) -> tuple[str, ...]:
        """--load value: Odoo's own defaults plus the session store, always. 19 adds `rpc` to the
        defaults and `--load=base,web,...` would drop it, so it stays in the list."""
        defaults = ("base", "rpc", "web") if int(self.series.split(".")[0]) >= 19 else ("base", "web")
        return tuple(dict.fromkeys((*defaults, *self.server_wide_modules, self.sessions)))


_MANAGED_ARGS = frozenset(
    {
        "--load",
        "--proxy-mode",
        "--db-filter",
        "--database",
        "-d",
        "--workers",
        "--max-cron-threads",
        "--data-dir",
        "--addons-path",
        "--db_host",
        "--db_port",
        "--db_user",
        "--db_password",
        "--http-port",
        "--gevent-port",
        "--no-http",
        "--stop-after-init",
        "--update",
        "-u",
        "--init",
        "-i",
    }
)
