"""PostgreSQL access: psycopg2 (what the lab image ships, like Odoo), else psycopg 3 (dev machines).

Only the common subset of both drivers is used: keyword connect, `%s` parameters, lists as arrays
(`= ANY(%s)`), explicit commit.
"""

try:
    import psycopg2 as driver
except ImportError:  # pragma: no cover - depends on the machine
    import psycopg as driver  # type: ignore[no-redef]

Error = driver.Error
OperationalError = driver.OperationalError
ProgrammingError = driver.ProgrammingError


def sqlstate(exc: Exception) -> str | None:
    return getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)


def connect(cfg, dbname: str, autocommit: bool = False, timeout: int = 10):
    params = {
        "host": cfg.db_host,
        "port": cfg.db_port,
        "user": cfg.db_user,
        "password": cfg.db_password,
        "dbname": dbname,
        "connect_timeout": timeout,
        "application_name": "odoo-standin",
    }
    conn = driver.connect(**{k: v for k, v in params.items() if v not in (None, "", False)})
    conn.autocommit = autocommit
    return conn


class Cursor:
    """One connection and cursor, counting queries for the `N queries` part of Odoo's log lines."""

    def __init__(self, cfg, dbname: str):
        self.dbname = dbname
        self.conn = connect(cfg, dbname)
        self._cr = self.conn.cursor()
        self.sql_log_count = 0

    def execute(self, query: str, params=None):
        self.sql_log_count += 1
        self._cr.execute(query, params)
        return self

    def fetchone(self):
        return self._cr.fetchone()

    def fetchall(self):
        return self._cr.fetchall()

    def dictfetchall(self) -> list[dict]:
        cols = [d[0] for d in self._cr.description]
        return [dict(zip(cols, row, strict=True)) for row in self._cr.fetchall()]

    def commit(self):
        self.conn.commit()

    def rollback(self):
        self.conn.rollback()

    def close(self):
        try:
            self.conn.rollback()
        finally:
            self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def database_exists(cfg, dbname: str) -> bool:
    conn = connect(cfg, "postgres", autocommit=True)
    try:
        cr = conn.cursor()
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        return cr.fetchone() is not None
    finally:
        conn.close()


def has_modules_table(cfg, dbname: str, timeout: int = 10) -> bool:
    """Whether ir_module_module is committed in `dbname`: a catalogue read that never waits on the
    locks of a transaction still initializing the database."""
    conn = connect(cfg, dbname, autocommit=True, timeout=timeout)
    try:
        cr = conn.cursor()
        cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
        return bool(cr.fetchone()[0])
    finally:
        conn.close()


def list_dbs(cfg, timeout: int = 10) -> list[str]:
    # odoo.service.db.list_dbs: databases owned by the connecting user, minus templates and postgres.
    conn = connect(cfg, "postgres", autocommit=True, timeout=timeout)
    try:
        cr = conn.cursor()
        cr.execute(
            "SELECT datname FROM pg_database WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = "
            "current_user) AND NOT datistemplate AND datallowconn AND datname <> 'postgres' ORDER BY datname"
        )
        return [r[0] for r in cr.fetchall()]
    finally:
        conn.close()
