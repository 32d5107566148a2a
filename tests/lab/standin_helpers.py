"""Running the Odoo stand-in (lab/images/odoo/odoo) as a subprocess against local PostgreSQL and Redis."""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "lab" / "images" / "odoo" / "odoo"
PG = {
    "host": os.environ.get("STANDIN_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("STANDIN_PG_PORT", "5432"),
    "user": os.environ.get("STANDIN_PG_USER", "postgres"),
}
REDIS_URL = os.environ.get("STANDIN_REDIS_URL", "redis://127.0.0.1:6379/0")
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ [\w.]+: "
)


def _has_image_drivers(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import psycopg2, redis"], capture_output=True, check=False)
    return probe.returncode == 0


def standin_python() -> str:
    """The interpreter closest to the lab image (python3 + psycopg2 + redis), else this one (psycopg 3)."""
    if os.environ.get("ODOO_STANDIN_PYTHON"):
        return os.environ["ODOO_STANDIN_PYTHON"]
    for candidate in ("/usr/bin/python3",):
        if os.path.exists(candidate) and _has_image_drivers(candidate):
            return candidate
    return sys.executable


PYTHON = standin_python()


def db_args(db: str | None = None, user: str | None = None) -> list[str]:
    args = ["--db_host", PG["host"], "--db_port", PG["port"], "--db_user", user or PG["user"]]
    return args + (["-d", db] if db else [])


# Odoo refuses the `postgres` database user (19: exit 1, real log pguser.log): the 19 tests run the
# stand-in as this role (created on demand, CREATEDB, no superuser), and check as PG["user"].
ODOO_ROLE = os.environ.get("STANDIN_ODOO_ROLE", "standin_odoo")


def ensure_odoo_role() -> str:
    with pg_connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ODOO_ROLE,)).fetchone():
            conn.execute(f'CREATE ROLE "{ODOO_ROLE}" LOGIN CREATEDB')
    return ODOO_ROLE


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOST", "PORT", "USER", "PASSWORD", "ODOO_RC") and not k.startswith(("ODOO_", "PG"))
    }
    env.update(
        PYTHONDONTWRITEBYTECODE="1", ODOO_STANDIN_MODULE_SECONDS="0.01", HOME="/nonexistent-standin-home"
    )
    env.update(extra)
    return env


def run(args: list[str], timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(STANDIN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=base_env(**env),
        check=False,
    )


def pg_connect(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(dbname=dbname, autocommit=True, **PG)


def query(dbname: str, sql: str, params=None) -> list[tuple]:
    with pg_connect(dbname) as conn:
        return conn.execute(sql, params).fetchall()


def execute(dbname: str, sql: str, params=None) -> None:
    with pg_connect(dbname) as conn:
        conn.execute(sql, params)


def states(dbname: str) -> dict[str, tuple[str, str | None]]:
    return {
        n: (s, v) for n, s, v in query(dbname, "SELECT name, state, latest_version FROM ir_module_module")
    }


def database_exists(dbname: str) -> bool:
    return bool(query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)))


def drop_database(dbname: str) -> None:
    with pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def new_db_name() -> str:
    return f"standin_test_{uuid.uuid4().hex[:10]}"


def write_addon(path: Path, name: str, **manifest) -> None:
    (path / name).mkdir(parents=True, exist_ok=True)
    (path / name / "__manifest__.py").write_text(repr({"name": name, "version": "1.0", **manifest}))


def wait_for(predicate, timeout: float = 30, step: float = 0.1):
    """Poll until predicate() is truthy (the machine may be loaded: no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def session_id(self) -> str | None:
        for value in self.headers.get_all("Set-Cookie") or []:
            match = re.match(r"session_id=([^;]+)", value)
            if match:
                return match.group(1)
        return None


def request(
    port: int, method: str, path: str, sid: str | None = None, body: bytes | None = None, **headers
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        if sid:
            hdrs["Cookie"] = f"session_id={sid}"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def login(port: int, user: str = "admin", password: str = "admin") -> Reply:  # noqa: S107
    body = f"login={user}&password={password}".encode()
    return request(port, "POST", "/web/login", body=body, Content_Type="application/x-www-form-urlencoded")


def multipart(field: str, filename: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Server:
    """`odoo` serving HTTP in the background; stop() sends SIGTERM and returns the exit status."""

    def __init__(
        self,
        db: str | None,
        data_dir: Path,
        *args: str,
        ready_marker: str | None = "Registry loaded in",
        ready_status: int | None = 200,
        db_user: str | None = None,
        **env: str,
    ):
        self.port = free_port()
        self.ready_marker = ready_marker
        self.ready_status = ready_status  # None: any HTTP answer will do (a site that 500s)
        self.log_path = data_dir.parent / f"odoo-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            PYTHON,
            str(STANDIN),
            *db_args(db, db_user),
            "--data-dir",
            str(data_dir),
            "--http-port",
            str(self.port),
            *args,
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=base_env(**env))
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"odoo exited with {self.proc.returncode}:\n{self.log}")
            if self.ready_marker is None or self.ready_marker in self.log:
                with contextlib.suppress(OSError):
                    status = request(self.port, "GET", "/web/health").status
                    if self.ready_status in (None, status):
                        return
            time.sleep(0.1)
        raise AssertionError(f"odoo did not get ready:\n{self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
