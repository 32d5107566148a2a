"""HTTP session stores: Odoo's files under data_dir/sessions, or camptocamp's session_redis.

session_redis is active only when it is a server-wide module AND ODOO_SESSION_REDIS is 1/true (facts
§5 "session_redis"; camptocamp/odoo-cloud-platform 16.0 and 17.0 session_redis/http.py, session.py).
"""

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import time

_logger = logging.getLogger("odoo.http")
_redis_logger = logging.getLogger("odoo.addons.session_redis.http")

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


class FilesystemSessionStore:
    """odoo.http.FilesystemSessionStore: one JSON file per session, scattered by the first 2 chars."""

    _key_re = re.compile(r"^[a-zA-Z0-9_-]{84}$")

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path, 0o700, exist_ok=True)

    def describe(self) -> str:
        return f"HTTP sessions stored in the filesystem at {self.path}"

    def generate_key(self) -> str:
        return base64.urlsafe_b64encode(os.urandom(63)).decode()

    def is_valid_key(self, sid: str) -> bool:
        return bool(self._key_re.match(sid or ""))

    def _filename(self, sid: str) -> str:
        return os.path.join(self.path, sid[:2], sid)

    def new(self) -> Session:
        return Session({}, self.generate_key(), True)

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

    def rotate(self, session: Session) -> None:
        self.delete(session)
        session.sid = self.generate_key()
        self.save(session)


class RedisSessionStore:
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

    def is_valid_key(self, sid: str) -> bool:
        return bool(self._key_re.match(sid or ""))

    def build_key(self, sid: str) -> str:
        return f"{self.prefix}{sid}"

    def new(self) -> Session:
        return Session({}, self.generate_key(), True)

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

    def rotate(self, session: Session) -> None:
        self.delete(session)
        session.sid = self.generate_key()
        self.save(session)


def _is_true(value: str | None) -> bool:
    return (value or "0").strip().lower() in ("1", "true", "t", "yes", "y", "on")


def _purge_fs_sessions(path: str) -> None:
    # session_redis http.py purges data_dir/sessions at import. Its loop reuses `path`, so after the
    # first entry every unlink fails (facts §5): "OS Error during purge of redis sessions." warnings.
    for fname in os.listdir(path):
        path = os.path.join(path, fname)
        try:
            os.unlink(path)
        except OSError:
            _redis_logger.warning("OS Error during purge of redis sessions.")


def make_store(cfg):
    env = os.environ
    if "session_redis" in cfg.server_wide_modules and _is_true(env.get("ODOO_SESSION_REDIS")):
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
