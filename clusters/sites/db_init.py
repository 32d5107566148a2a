"""A new site's database is initialised before any replica serves it; an existing one is adopted as is.

Real Odoo 19 showed why (issue 20): nothing initialised a new site's database, so the cron's `-d`
created it while the web replicas already queried it ("Database ... not initialized"), and a cron
killed during that install would have left it empty for good. The deploy's "Initialise database"
step runs after the database server is up and before Odoo starts:

1. The filestore is handed to the user the image runs as (read from the image, uid 101 in the
   official one): Odoo writes sessions and attachments there, and a folder made by root fails every
   request with a PermissionError. Images that run as root need nothing.
2. One task with the site's image, on its network, reads the database's state and acts on it:
   missing, empty or interrupted (base never installed) -> initialise; base installed -> adopt it,
   nothing runs; tables that are not Odoo's -> refuse (the panel never writes over another
   application's data). 19.0 initialises with `odoo db init DB --language L [--country C]
   [--with-demo]`; earlier series, which have no such command, with `odoo -d DB -i base
   --stop-after-init --load-language=L`. The admin password is then written as Odoo stores it (a
   pbkdf2-sha512 hash): the password reaches the task as a Swarm secret file, never in an
   environment or on a command line (`ps` on the node shows command lines).
3. `db init` exits 0 even when initialising failed (service/db.py logs `CREATE DATABASE failed:` and
   swallows the error), so the task checks that base is installed, and drops a database it created
   but could not finish: an admin whose password was never set must not be adopted by a later deploy.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
from docker.types import SecretReference

from clusters import swarm_ops as ops
from clusters.sites.image_check import ImageIdentity
from clusters.stack import SiteSpec
from clusters.stack.one_off import render_init_task, render_owner_task

Log = Callable[[str], object]
DEADLINE_S = 900.0  # base and its auto-installs take 19-40 s on real 19; a slow disk, much more
OWNER_DEADLINE_S = 300.0
SECRET_FILE = "odoo_admin_password"  # noqa: S105 - a file name
# Odoo's CryptContext rounds for pbkdf2_sha512 (odoo/addons/base/models/res_users.py).
PBKDF2_ROUNDS = 600_000


@dataclass(frozen=True)
class InitSettings:
    """What a new database starts with (the site's settings)."""

    admin_password: str
    language: str = "en_US"
    country: str = ""
    with_demo: bool = False


# argv[1]: database; argv[2]: series major; argv[3]: JSON settings. Prints `DATABASE <state>` first,
# then `DATABASE-RESULT <adopted|initialised|failed|foreign>` last; exit 0, or 3 (failed), 4 (foreign).
SCRIPT = r"""
import base64, hashlib, json, os, subprocess, sys, time
import psycopg2
db, major, cfg = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
# The db_password secret, read as the image's entrypoint reads PASSWORD_FILE; libpq (this script,
# real Odoo) takes PGPASSWORD, the stand-in's parser PASSWORD. Both live in this process tree only.
with open(os.environ["PASSWORD_FILE"]) as f:
    os.environ["PGPASSWORD"] = os.environ["PASSWORD"] = f.read().rstrip("\n")

def connect(name):
    deadline = time.time() + 60  # a task new to the overlay may not resolve the database at once
    while True:
        try:
            conn = psycopg2.connect(dbname=name, connect_timeout=5)
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(1)

def one(conn, sql, args=()):
    with conn.cursor() as cr:
        cr.execute(sql, args)
        row = cr.fetchone()
        return row[0] if row else None

def state():
    server = connect("postgres")
    try:
        if not one(server, "SELECT 1 FROM pg_database WHERE datname = %s", (db,)):
            return "missing"
    finally:
        server.close()
    conn = connect(db)
    try:
        if not one(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"):
            return "empty"
        if not one(conn, "SELECT to_regclass('public.ir_module_module') IS NOT NULL"):
            return "foreign"
        base = one(conn, "SELECT state FROM ir_module_module WHERE name = 'base'")
        return "installed" if base == "installed" else "interrupted"
    finally:
        conn.close()

def end(result, code):
    print("DATABASE-RESULT " + result, flush=True)
    sys.exit(code)

def drop():
    server = connect("postgres")
    try:
        with server.cursor() as cr:
            cr.execute('DROP DATABASE IF EXISTS "%s"' % db.replace('"', '""'))
    finally:
        server.close()

def ab64(data):
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")

before = state()
print("DATABASE " + before, flush=True)
if before == "installed":
    end("adopted", 0)
if before == "foreign":
    end("foreign", 4)
paths = ["--addons-path=" + ",".join(cfg["addons_path"])] if cfg["addons_path"] else []
paths.append("--data-dir=" + cfg["data_dir"])
if major >= 19:
    cmd = ["odoo", "db", *paths, "init", db, "--language", cfg["language"]]
    cmd += ["--country", cfg["country"]] if cfg["country"] else []
    cmd += ["--with-demo"] if cfg["demo"] else []
    cmd += ["--force"] if before != "missing" else []
else:
    cmd = ["odoo", "-d", db, "-i", "base", "--stop-after-init", "--no-http", *paths]
    cmd += ["--load-language=" + cfg["language"]]
    cmd += [] if cfg["demo"] else ["--without-demo=all"]
print("RUN " + " ".join(cmd), flush=True)
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
swallowed = False
for raw in proc.stdout:
    line = raw.decode("utf-8", "replace").rstrip("\n")
    swallowed = swallowed or "CREATE DATABASE failed" in line
    print(line, flush=True)
code = proc.wait()
if code != 0 or swallowed or state() != "installed":
    why = ", CREATE DATABASE failed" if swallowed else ""
    print("DATABASE-FAILED exit %d%s; the half-made database is dropped" % (code, why), flush=True)
    drop()
    end("failed", 3)
with open(cfg["secret_file"]) as f:
    password = f.read()
salt = os.urandom(16)
key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, cfg["rounds"])
hashed = "$pbkdf2-sha512$%d$%s$%s" % (cfg["rounds"], ab64(salt), ab64(key))
conn = connect(db)
with conn.cursor() as cr:
    cr.execute("UPDATE res_users SET password = %s WHERE login = 'admin'", (hashed,))
    updated = cr.rowcount
conn.close()
if updated != 1:
    print("DATABASE-FAILED no user 'admin' to give the password; the database is dropped", flush=True)
    drop()
    end("failed", 3)
end("initialised", 0)
"""


@dataclass
class InitOutcome:
    state: str  # missing | empty | interrupted | installed | foreign (before the step)
    result: str  # adopted | initialised


def script_args(spec: SiteSpec, settings: InitSettings) -> list[str]:
    cfg = {
        "language": settings.language,
        "country": settings.country,
        "demo": settings.with_demo,
        "addons_path": list(spec.addons_path),
        "data_dir": spec.data_dir,
        "secret_file": f"/run/secrets/{SECRET_FILE}",
        "rounds": PBKDF2_ROUNDS,
    }
    return [spec.db_name, spec.series.split(".")[0], json.dumps(cfg, sort_keys=True)]


@contextlib.contextmanager
def admin_secret(
    client: docker.DockerClient, spec: SiteSpec, identity: ImageIdentity, password: str, run_id: str
) -> Iterator[SecretReference]:
    """The admin password as a Swarm secret for the length of one task, readable by the image's user."""
    name = f"{spec.slug}_admin_{run_id}_{secrets.token_hex(3)}"
    created = client.secrets.create(name=name, data=password.encode(), labels={"panel.site": spec.slug})
    try:
        yield SecretReference(
            created.id, name, filename=SECRET_FILE, uid=str(identity.uid), gid=str(identity.gid), mode=0o400
        )
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.secrets.get(created.id).remove()


def give_filestore(
    client: docker.DockerClient, spec: SiteSpec, identity: ImageIdentity, run_id: str, log: Log
) -> None:
    """Step 1: the filestore belongs to the image's user (nothing to do for an image run as root)."""
    if identity.uid == 0:
        return
    task = render_owner_task(spec, identity.uid, identity.gid, run_id)
    code, lines = ops.run_one_off(client, task, OWNER_DEADLINE_S, log)
    if code != 0:
        raise ops.SwarmError(
            f"the filestore at {spec.data_dir} could not be given to uid {identity.uid} (the image's user): "
            f"{' '.join(lines[-2:]) or f'exit {code}'}. On NFS, let root change owners on the export "
            f"once, or chown the export to {identity.uid}:{identity.gid} on the server."
        )


def initialise(
    client: docker.DockerClient,
    spec: SiteSpec,
    identity: ImageIdentity,
    settings: InitSettings,
    run_id: str,
    log: Log,
) -> InitOutcome:
    """Steps 2 and 3: adopt or initialise the site's database. ops.Refused for a database that is
    not Odoo's, ops.SwarmError when initialising failed (the half-made database is dropped)."""
    with admin_secret(client, spec, identity, settings.admin_password, run_id) as secret:
        task = render_init_task(spec, SCRIPT, script_args(spec, settings), secret, run_id)
        code, lines = ops.run_one_off(client, task, DEADLINE_S, log)
    state = _marker(lines, "DATABASE ") or "unknown"
    result = _marker(lines, "DATABASE-RESULT ")
    if result == "foreign":
        raise ops.Refused(
            f"the database {spec.db_name} exists and holds tables that are not Odoo's: the panel will not "
            "initialise over them. Point the site at its own database name."
        )
    if code != 0 or result not in ("adopted", "initialised"):
        cause = _marker(lines, "DATABASE-FAILED ") or f"the task ended with exit {code}"
        said = "".join(f"Odoo said: {line}" for line in ops.error_lines(lines, 1))
        raise ops.SwarmError(f"initialising the database {spec.db_name} failed: {cause}. {said}".strip())
    return InitOutcome(state=state, result=result)


def _marker(lines: list[str], prefix: str) -> str | None:
    found = [line.removeprefix(prefix).strip() for line in lines if line.startswith(prefix)]
    return found[-1] if found else None


# What the step learnt, as it learns it: ("filestore_owner", (uid, gid)), ("database", result).
Record = Callable[[str, Any], object]


def _ignore(_: str, __: Any) -> None:
    return None


@dataclass(frozen=True)
class DatabasePrep:
    """What the deploy's "Initialise database" step is to do: `init` None when the database is known
    (initialised or adopted at an earlier deploy); `filestore_owner` the uid:gid the filestore was
    last given; `record` keeps what the step learns as soon as it learns it (a later failure of the
    deploy must not forget that the database now exists)."""

    init: InitSettings | None = None
    filestore_owner: tuple[int, int] | None = None
    record: Record = _ignore


def prepare_database(
    client: docker.DockerClient,
    spec: SiteSpec,
    identity: ImageIdentity | None,
    run_id: str,
    log: Log,
    prepare: DatabasePrep,
) -> str:
    """The step: the filestore's owner, then the database initialised or adopted. Returns adopted,
    initialised, or "" when the database was known already."""
    if identity is None:
        raise ops.SwarmError("the image's user is unknown: the image check did not read it")
    if identity.uid != 0 and (identity.uid, identity.gid) != prepare.filestore_owner:
        give_filestore(client, spec, identity, run_id, log)
        log(f"the filestore {spec.data_dir} belongs to uid {identity.uid}:{identity.gid}")
    prepare.record("filestore_owner", (identity.uid, identity.gid))
    if prepare.init is None:
        log(f"the database {spec.db_name} was initialised or adopted at an earlier deploy")
        return ""
    outcome = initialise(client, spec, identity, prepare.init, run_id, log)
    if outcome.result == "adopted":
        log(f"the database {spec.db_name} exists with base installed: adopted as it is, nothing initialised")
    else:
        log(f"the database {spec.db_name} was {outcome.state}: initialised, admin password set")
    prepare.record("database", outcome.result)
    return outcome.result
