"""The panel's settings: everything comes from the environment (see README "Configuration").

Two modes. `PANEL_MODE=development` (the default) runs on a local SQLite file with a generated
secret, for a first look. `PANEL_MODE=production` refuses to start without a real secret key and
an encryption key, turns DEBUG off and every cookie and transport flag on, so that
`manage.py check --deploy` passes with no warnings.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from panel.env import env, envbool, envint, envlist
from panel.metrics.access import DEFAULT_ALLOW as DEFAULT_METRICS_ALLOW
from panel.metrics.access import parse_allow

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("PANEL_VAR_DIR", str(BASE_DIR / "var")))

MODE = env("PANEL_MODE", "development")
if MODE not in {"development", "production"}:
    raise ImproperlyConfigured(f"PANEL_MODE={MODE!r}: use development or production")
PRODUCTION = MODE == "production"

DEBUG = envbool("PANEL_DEBUG", not PRODUCTION)


def _dev_secret(name: str) -> str:
    """A per-checkout random secret kept in var/, so development restarts keep sessions."""
    import secrets

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("PANEL_SECRET_KEY")
ENCRYPTION_KEY = env("PANEL_ENCRYPTION_KEY")
if PRODUCTION and (len(SECRET_KEY) < 50 or len(ENCRYPTION_KEY) < 32):
    raise ImproperlyConfigured(
        "production mode needs PANEL_SECRET_KEY (50+ characters) and PANEL_ENCRYPTION_KEY (32+ characters "
        "of a long random string, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    )
SECRET_KEY = SECRET_KEY or _dev_secret("secret_key")
# Secrets at rest (cluster TLS keys, database passwords) are encrypted with this key; see panel/crypto.py.
ENCRYPTION_KEY = ENCRYPTION_KEY or _dev_secret("encryption_key")
# Keys being replaced (comma-separated): what they encrypted still decrypts until
# `manage.py encryption reencrypt` has moved it to ENCRYPTION_KEY.
ENCRYPTION_KEY_OLD = envlist("PANEL_ENCRYPTION_KEY_OLD", "")

ALLOWED_HOSTS = envlist("PANEL_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("PANEL_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "panel",
    "clusters",
    "clusters.approvals",
    "jobs",
    "lab",
    "panel.notify",
]

MIDDLEWARE = [
    "panel.middleware.RequestIdMiddleware",
    "panel.csp.ContentSecurityPolicyMiddleware",
    "panel.uploads.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "panel.middleware.LoginRequiredMiddleware",
    "panel.middleware.VaryOnHtmxMiddleware",
]

ROOT_URLCONF = "panel.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "panel.roles.context_processor",
            ],
        },
    },
]
WSGI_APPLICATION = "panel.wsgi.application"
ASGI_APPLICATION = "panel.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env("PANEL_DATABASE_URL", f"sqlite:///{VAR_DIR / 'panel.sqlite3'}"),
        conn_max_age=envint("PANEL_DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # One writer at a time from BEGIN on: a deferred transaction that reads and then writes fails
    # with "database is locked" instead of waiting, and the audit chain reads its last link first.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("PANEL_REDIS_URL", "redis://127.0.0.1:6379/0")
# Where the local lab keeps its sites' bind filestores (lab/api.py FILESTORE_ROOT, a test holds the
# two together): a lab site's bind path must lie inside it.
LAB_FILESTORE_ROOT = env("PANEL_LAB_FILESTORE_ROOT", env("OPLAB_STATE_DIR", "/var/lib/oplab") + "/filestore")
# A lab cluster's backup root when its row names none: inside the filestore root, so the host rule
# allows it as it allows a lab filestore (clusters/stack/backup_store.py); `_` is no site's slug.
LAB_BACKUP_ROOT = env("PANEL_LAB_BACKUP_ROOT", LAB_FILESTORE_ROOT + "/_backups")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("PANEL_CACHE_PREFIX", "panel"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("PANEL_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("PANEL_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# Cookies and transport. Secure flags are on in production and can be forced either way.
SECURE_COOKIES = envbool("PANEL_SECURE_COOKIES", PRODUCTION)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("PANEL_SESSION_SECONDS", 12 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = envbool("PANEL_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = envint("PANEL_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
if envbool("PANEL_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery, configured for long jobs (see jobs/ and README "Jobs").
CELERY_BROKER_URL = env("PANEL_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("PANEL_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# One job per worker process at a time: a prefetched module update would wait behind a long one.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A job is acknowledged when it starts, never re-delivered when a worker dies: re-running a module
# update blindly is unsafe. The reaper (heartbeat) finishes and compensates dead jobs instead.
CELERY_TASK_ACKS_LATE = False
# A module update of a large database can take hours; its `odoo -u` gets what the soft limit
# leaves after stop, restart and backup (clusters/sites/module_update/update.py one_off_deadline).
CELERY_TASK_SOFT_TIME_LIMIT = envint("PANEL_JOB_SOFT_TIME_LIMIT", 4 * 3600)
CELERY_TASK_TIME_LIMIT = envint("PANEL_JOB_TIME_LIMIT", 4 * 3600 + 300)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = envbool("PANEL_CELERY_EAGER", False)
# Notifications have their own queue and worker: a module update holding every job worker for an hour
# must not hold back its own "update started" notice (scripts/run.sh, docker-compose.dev.yml).
CELERY_TASK_ROUTES = {"panel.notify.*": {"queue": "notify"}}
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {"task": "panel.tasks.beat_heartbeat", "schedule": 10.0},
    "cluster-sync": {"task": "clusters.tasks.sync_all", "schedule": 10.0},
    # Live specs of every deployed site against the rendered ones (clusters/stack/drift.py).
    "site-drift": {"task": "clusters.tasks.drift_all", "schedule": float(envint("PANEL_DRIFT_SECONDS", 60))},
    # Ends jobs whose worker died and runs their compensation (jobs/reaper.py).
    "jobs-reaper": {"task": "jobs.reap", "schedule": 10.0},
    # Scheduled backups (each site's interval) and restore drills (clusters/sites/backups/schedule.py).
    "backups-tick": {"task": "clusters.tasks.backups_tick", "schedule": 3600.0},
}
# A restore drill of each site's newest good backup when none was drilled within this many days; 0: never.
BACKUP_DRILL_EVERY_DAYS = envint("PANEL_BACKUP_DRILL_EVERY_DAYS", 7)
# A running job beats every JOB_HEARTBEAT_SECONDS; the reaper ends it once its heartbeat is older
# than JOB_HEARTBEAT_TIMEOUT (several missed beats, so a slow database does not kill healthy jobs).
JOB_HEARTBEAT_SECONDS = envint("PANEL_JOB_HEARTBEAT_SECONDS", 5)
JOB_HEARTBEAT_TIMEOUT = envint("PANEL_JOB_HEARTBEAT_TIMEOUT", 30)
# A job still queued after this many seconds whose Celery message the broker no longer holds (Redis
# restarted: nothing is persisted) is failed by the reaper, releasing its site.
JOB_QUEUED_TIMEOUT = envint("PANEL_JOB_QUEUED_TIMEOUT", 1800)
# Live job logs (one Redis Stream per job); the stored log is in the database either way.
JOB_LOG_REDIS_URL = env("PANEL_JOB_LOG_REDIS_URL", REDIS_URL)

# The audit chain (README "Audit log"). Events are sealed with an HMAC under AUDIT_KEY, a key that is
# not in the database (empty: a subkey of ENCRYPTION_KEY); rows sealed under the keys in AUDIT_KEY_OLD
# still verify. Beat appends the chain's head to AUDIT_ANCHOR_FILE every AUDIT_ANCHOR_EVERY_S seconds
# and verifies the chain against it every AUDIT_VERIFY_EVERY_S (panel/audit/watch.py).
AUDIT_KEY = env("PANEL_AUDIT_KEY")
if PRODUCTION and AUDIT_KEY and len(AUDIT_KEY) < 32:
    raise ImproperlyConfigured("PANEL_AUDIT_KEY: 32+ characters of a long random string, or leave it unset")
AUDIT_KEY_OLD = envlist("PANEL_AUDIT_KEY_OLD", "")
AUDIT_ANCHOR_FILE = Path(env("PANEL_AUDIT_ANCHOR_FILE", str(VAR_DIR / "audit-anchors.jsonl")))
AUDIT_ANCHOR_EVERY_S = envint("PANEL_AUDIT_ANCHOR_EVERY_S", 600)
AUDIT_VERIFY_EVERY_S = envint("PANEL_AUDIT_VERIFY_EVERY_S", 3600)
CELERY_BEAT_SCHEDULE["audit-anchor"] = {
    "task": "panel.tasks.audit_anchor",
    "schedule": float(AUDIT_ANCHOR_EVERY_S),
}
CELERY_BEAT_SCHEDULE["audit-verify"] = {
    "task": "panel.tasks.audit_verify",
    "schedule": float(AUDIT_VERIFY_EVERY_S),
}

# Notifications (README "Notifications", panel/notify/): the same notice to the same channel is sent
# once per NOTIFY_DEDUP_SECONDS; beat re-sends deliveries whose broker message was lost.
NOTIFY_DEDUP_SECONDS = envint("PANEL_NOTIFY_DEDUP_SECONDS", 600)
CELERY_BEAT_SCHEDULE["notify-sweep"] = {"task": "panel.notify.sweep", "schedule": 60.0}

# Login protection (panel/auth.py, panel/login_limits.py): lock a username+address after this many
# failures within the window; past a ceiling of failures for one account from every address, or from
# one address over every username, refuse for a cool-down, except to a username that signed in from
# that address within LOGIN_KNOWN_ADDRESS_DAYS. `manage.py users unlock NAME` ends an account's.
LOGIN_MAX_FAILURES = envint("PANEL_LOGIN_MAX_FAILURES", 5)
LOGIN_LOCK_SECONDS = envint("PANEL_LOGIN_LOCK_SECONDS", 900)
LOGIN_ACCOUNT_MAX_FAILURES = envint("PANEL_LOGIN_ACCOUNT_MAX_FAILURES", 20)
LOGIN_ACCOUNT_LOCK_SECONDS = envint("PANEL_LOGIN_ACCOUNT_LOCK_SECONDS", 900)
LOGIN_ADDRESS_MAX_FAILURES = envint("PANEL_LOGIN_ADDRESS_MAX_FAILURES", 50)
LOGIN_ADDRESS_LOCK_SECONDS = envint("PANEL_LOGIN_ADDRESS_LOCK_SECONDS", 900)
LOGIN_KNOWN_ADDRESS_DAYS = envint("PANEL_LOGIN_KNOWN_ADDRESS_DAYS", 30)

# Uploads (README "Configuration"). A body longer than its view takes is refused with 413 before it is
# read (panel/uploads.py): MAX_UPLOAD_BYTES for an archive upload, DATA_UPLOAD_MAX_MEMORY_SIZE anywhere
# else. A file over FILE_UPLOAD_MAX_MEMORY_SIZE goes to a temporary file, not memory.
MAX_UPLOAD_BYTES = envint("PANEL_MAX_UPLOAD_BYTES", 200 << 20)
FILE_UPLOAD_MAX_MEMORY_SIZE = 1 << 20
# An uploaded archive is unpacked in a child process with these bounds (clusters/approvals/gate/):
# the largest pax or GNU long-name header, the child's address space and its CPU seconds.
ARCHIVE_MAX_HEADER_BYTES = envint("PANEL_ARCHIVE_MAX_HEADER_BYTES", 8 << 10)
ARCHIVE_UNPACK_MEMORY_BYTES = envint("PANEL_ARCHIVE_UNPACK_MEMORY_BYTES", 512 << 20)
ARCHIVE_UNPACK_CPU_SECONDS = envint("PANEL_ARCHIVE_UNPACK_CPU_SECONDS", 60)

# /metrics (README "Metrics", panel/metrics/): open to these addresses or networks (empty: none), and
# to a request with `Authorization: Bearer <PANEL_METRICS_TOKEN>` from anywhere.
METRICS_ALLOW = parse_allow(env("PANEL_METRICS_ALLOW", DEFAULT_METRICS_ALLOW))
METRICS_TOKEN = env("PANEL_METRICS_TOKEN")
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("PANEL_METRICS_TOKEN: 32+ characters of a long random string, or unset")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("PANEL_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
