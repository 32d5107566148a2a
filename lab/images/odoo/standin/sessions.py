"""HTTP session stores: Odoo's files under data_dir/sessions (the default), or an addon's store.

No store is built into the stand-in's core: the stores are addons an image carries in an addons
folder (lab/images/odoo/session_addons/<series>/), loaded server-wide with --load like real ones:
- camptocamp's session_redis (16.0-18.0 releases): active when server-wide, on the addons path, AND
  ODOO_SESSION_REDIS is 1/true (session_redis/http.py, session.py). There is no 19.0 release; its
  18.0 code on 19 makes every request answer 500 (real log g_session_redis_enabled1.log).
- OCA's session_db (19.0 release too): sessions in PostgreSQL at $SESSION_DB_URI, in a table of its
  own (http_sessions), active when server-wide and on the addons path.
"""

import ast
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field

from . import MAJOR, manifest, pg

_logger = logging.getLogger("odoo.http")
_redis_logger = logging.getLogger("odoo.addons.session_redis.http")
_server_logger = logging.getLogger("odoo.service.server")
_warnings_logger = logging.getLogger("py.warnings")
STORE_ADDONS = ("session_redis", "session_db")


@dataclass
class ServerWide:
    """What loading the --load modules left behind (service/server.py load_server_wide_modules)."""

    loaded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # not on the addons path, or raised on import
    incompatible: list[str] = field(default_factory=list)  # manifest version for another series


def load_server_wide_modules(cfg) -> ServerWide:
    names = list(cfg.server_wide_modules)
    if MAJOR >= 19:  # 19 always forces base and web into --load
        names += [m for m in ("base", "web") if m not in names]
    paths = cfg.all_addons_paths
    result = ServerWide()
    for name in names:
        if MAJOR >= 19 and name == "session_redis":
            path = manifest.module_path(name, paths)
            info = manifest.get_module_info(name, paths) if path else {}
            if info and not str(info.get("version", "")).startswith("19.0"):
                _warnings_logger.warning(
                    "%s/http.py:45: DeprecationWarning: lazy_property is deprecated since Odoo 19, "
                    "use `functools.cached_property`",
                    path,
                )
        try:
            manifest.import_module(name, paths)
        except Exception:
            _server_logger.exception("Failed to load server-wide module `%s`.", name)
            result.failed.append(name)
            continue
        raw = _raw_version(name, paths)
        if manifest.is_incompatible(raw):
            manifest.get_module_info(name, paths)  # logs `has an incompatible version` once
            result.incompatible.append(name)
        result.loaded.append(name)
    return result


def _raw_version(name: str, paths: list[str]) -> str:
    path = manifest.module_path(name, paths)
    if not path:
        return ""
    with open(os.path.join(path, manifest.MANIFEST), encoding="utf-8") as f:
        return str(ast.literal_eval(f.read()).get("version", ""))


SESSION_LIFETIME = 60 * 60 * 24 * 7  # odoo.http: 7 days, also the session_redis default
ANONYMOUS_LIFETIME = 60 * 60 * 3  # session_redis DEFAULT_SESSION_TIMEOUT_ANONYMOUS


class Session(dict):
    def __init__(self, data: dict, sid: str, new: bool):
        super().__init__(data)
        self.sid, self.new = sid, new
        self.is_dirty = False
        self.should_rotate = False

    @property
    def uid(self):
        return self.get("uid")

    def authenticate(self, db: str, login: str, uid: int) -> None:
        self.update(db=db, login=login, uid=uid, create_time=time.time())
        self.should_rotate = self.is_dirty = True

    def logout(self) -> None:
        for key in ("uid", "login"):
            self.pop(key, None)
        self.should_rotate = self.is_dirty = True


class SessionStore:
    """What every store shares (odoo.http's keys: 84 url-safe characters; new sessions; rotation).

    A store adds describe, get, save and delete; the Redis store has keys of its own.
    """

    _key_re = re.compile(r"^[a-zA-Z0-9_-]{84}$")

    def generate_key(self) -> str:
        return base64.urlsafe_b64encode(os.urandom(63)).decode()

    def is_valid_key(self, sid: str) -> bool:
        return bool(self._key_re.match(sid or ""))

    def new(self) -> Session:
        return Session({}, self.generate_key(), True)

    def rotate(self, session: Session) -> None:
        self.delete(session)
        session.sid = self.generate_key()
        self.save(session)


class FilesystemSessionStore(SessionStore):
    """odoo.http.FilesystemSessionStore: one JSON file per session, scattered by the first 2 chars."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path, 0o700, exist_ok=True)

    def describe(self) -> str:
        return f"HTTP sessions stored in the filesystem at {self.path}"

    def _filename(self, sid: str) -> str:
        return os.path.join(self.path, sid[:2], sid)

    def get(self, sid: str) -> Session:
        if not self.is_valid_key(sid):
            return self.new()
        try:
            with open(self._filename(sid), encoding="utf-8") as f:
                return Session(json.load(f), sid, False)
        except (OSError, ValueError):
            return self.new()

    def save(self, session: Session) -> None:
        path = self._filename(session.sid)
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(dict(session), f)
        os.replace(tmp, path)

    def delete(self, session: Session) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._filename(session.sid))


class RedisSessionStore(SessionStore):
    """session_redis' RedisSessionStore. Its ids are the vendored werkzeug store's 40-hex sha1 keys."""

    _key_re = re.compile(r"^[a-f0-9]{40}$")

    def __init__(self, client, where: str, prefix: str | None, expiration, anon_expiration):
        self.redis, self.where, self.raw_prefix = client, where, prefix or ""
        self.expiration = int(expiration) if expiration else SESSION_LIFETIME
        self.anon_expiration = int(anon_expiration) if anon_expiration else ANONYMOUS_LIFETIME
        # Verbatim behaviour of session.py (16.0/17.0): "%s:%s:" % ("session:", prefix), i.e. keys
        # `session::<prefix>:<sid>` although its README says `session:<prefix>:<sid>`.
        self.prefix = "session:"
        if prefix:
            self.prefix = f"{self.prefix}:{prefix}:"

    def describe(self) -> str:
        return f"HTTP sessions stored in Redis with prefix '{self.raw_prefix}' on {self.where}"

    def generate_key(self) -> str:
        return hashlib.sha1(os.urandom(30) + str(time.time()).encode(), usedforsecurity=False).hexdigest()

    def build_key(self, sid: str) -> str:
        return f"{self.prefix}{sid}"

    def get(self, sid: str) -> Session:
        if not self.is_valid_key(sid):
            return self.new()
        saved = self.redis.get(self.build_key(sid))
        if not saved:
            return self.new()
        try:
            data = json.loads(saved.decode("utf-8"))
        except ValueError:
            data = {}
        return Session(data, sid, False)

    def save(self, session: Session) -> None:
        key = self.build_key(session.sid)
        expiration = self.expiration if session.uid else self.anon_expiration
        if self.redis.set(key, json.dumps(dict(session)).encode("utf-8")):
            self.redis.expire(key, expiration)

    def delete(self, session: Session) -> None:
        self.redis.delete(self.build_key(session.sid))


def _is_true(value: str | None) -> bool:
    return (value or "0").strip().lower() in ("1", "true", "t", "yes", "y", "on")


def _purge_fs_sessions(path: str) -> None:
    # session_redis http.py purges data_dir/sessions at import. Its loop reuses `path`, so after the
    # first entry every unlink fails: "OS Error during purge of redis sessions." warnings.
    for fname in os.listdir(path):
        path = os.path.join(path, fname)
        try:
            os.unlink(path)
        except OSError:
            _redis_logger.warning("OS Error during purge of redis sessions.")


class BrokenStore:
    """A store whose every use raises: each request answers 500, /web/health included."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def describe(self) -> str:
        return f"broken session store ({self.exc})"

    def _raise(self, *args, **kwargs):
        raise self.exc

    new = get = save = delete = rotate = _raise


class SessionDBStore(SessionStore):
    """OCA session_db's PGSessionStore: one row per session in `http_sessions` of $SESSION_DB_URI.
    It hands the value to Odoo's `sql_db.db_connect(uri, allow_uri=True)`, whose connection_info_for
    takes a postgres:// or postgresql:// URI as the DSN, and anything else as a database name reached
    with Odoo's own db_host/db_port/db_user/db_password settings: so does this."""

    def __init__(self, uri: str, cfg=None):
        self.uri = uri
        self.cfg = cfg
        with self._cursor() as cr:
            cr.execute(
                "CREATE TABLE IF NOT EXISTS http_sessions (sid varchar PRIMARY KEY, "
                "write_date timestamp without time zone NOT NULL, payload text NOT NULL)"
            )

    @contextlib.contextmanager
    def _cursor(self):
        if self.uri.startswith(("postgresql://", "postgres://")) or self.cfg is None:
            conn = pg.driver.connect(self.uri)
        else:
            conn = pg.connect(self.cfg, self.uri)
        try:
            cr = conn.cursor()
            yield cr
            conn.commit()
        finally:
            conn.close()

    def describe(self) -> str:
        return f"HTTP sessions stored in PostgreSQL at {self.uri.split('@')[-1]}"

    def get(self, sid: str) -> Session:
        if not self.is_valid_key(sid):
            return self.new()
        with self._cursor() as cr:
            cr.execute("SELECT payload FROM http_sessions WHERE sid = %s", (sid,))
            row = cr.fetchone()
        if not row:
            return self.new()
        try:
            return Session(json.loads(row[0]), sid, False)
        except ValueError:
            return self.new()

    def save(self, session: Session) -> None:
        with self._cursor() as cr:
            cr.execute(
                "INSERT INTO http_sessions (sid, write_date, payload) VALUES (%s, now() AT TIME ZONE 'UTC', "
                "%s) ON CONFLICT (sid) DO UPDATE SET write_date = EXCLUDED.write_date, "
                "payload = EXCLUDED.payload",
                (session.sid, json.dumps(dict(session))),
            )

    def delete(self, session: Session) -> None:
        with self._cursor() as cr:
            cr.execute("DELETE FROM http_sessions WHERE sid = %s", (session.sid,))


def make_store(cfg, server_wide: ServerWide | None = None):
    """The store the loaded server-wide modules install; Odoo's file store otherwise."""
    env = os.environ
    loaded = server_wide.loaded if server_wide else []
    incompatible = server_wide.incompatible if server_wide else []
    if "session_db" in loaded:
        uri = env.get("SESSION_DB_URI")
        if not uri:
            return BrokenStore(KeyError("SESSION_DB_URI"))
        store = SessionDBStore(uri, cfg)
        _logger.info("%s", store.describe())
        return store
    if "session_redis" in loaded and _is_true(env.get("ODOO_SESSION_REDIS")):
        if MAJOR >= 19 and "session_redis" in incompatible:
            # camptocamp's 18.0 code on 19 (seen on real 19): the patched store cannot even be created.
            return BrokenStore(
                TypeError("Cannot use cached_property instance without calling __set_name__ on it.")
            )
        import redis

        url = env.get("ODOO_SESSION_REDIS_URL")
        if url:  # the URL takes precedence over host/port (rediss:// support)
            client, where = redis.from_url(url), url.split("@")[-1]
        else:
            host = env.get("ODOO_SESSION_REDIS_HOST") or "localhost"
            port = int(env.get("ODOO_SESSION_REDIS_PORT") or 6379)
            client = redis.Redis(host=host, port=port, password=env.get("ODOO_SESSION_REDIS_PASSWORD"))
            where = f"{host}:{port}"
        store = RedisSessionStore(
            client,
            where,
            env.get("ODOO_SESSION_REDIS_PREFIX"),
            env.get("ODOO_SESSION_REDIS_EXPIRATION"),
            env.get("ODOO_SESSION_REDIS_EXPIRATION_ANONYMOUS"),
        )
        os.makedirs(cfg.session_dir, 0o700, exist_ok=True)
        _purge_fs_sessions(cfg.session_dir)
        _redis_logger.info("%s", store.describe())
        return store
    store = FilesystemSessionStore(cfg.session_dir)
    _logger.info("%s", store.describe())
    return store
