"""No password in what `docker service inspect` shows (issue 17): every service and one-off task the
panel renders for a site carries the database and Redis passwords as Swarm secret files, never in its
environment, command line, labels or healthcheck. The one exception, said in service_parts.session_env:
session_redis reads its password from ODOO_SESSION_REDIS_PASSWORD only."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.types import SecretReference

from clusters.sites.checksums import render_checksum_task
from clusters.sites.image_addons import render_addons_task
from clusters.sites.image_check import render_manifest_task
from clusters.stack import backup_tasks, db_copy, one_off
from clusters.stack.render import render
from clusters.stack.secrets import DB_PASSWORD_FILE, with_db_password
from clusters.stack.service_spec import ServiceSpec, engine_spec, to_create_kwargs
from clusters.stack.spec import SiteSpec

DB_PW = "Db-Pw-9f8e7d6c5b4a"
REDIS_PW = "Redis-Pw-0a1b2c3d4e5f"
ROOT = Path(__file__).resolve().parents[2]
COPY = "acme_rh1"

TASKS: dict[str, Callable[[SiteSpec], ServiceSpec]] = {
    "render_update_task": lambda s: one_off.render_update_task(s, ["sale"]),
    "render_restore_task": lambda s: one_off.render_restore_task(s, "a.dump"),
    "render_probe_task": one_off.render_probe_task,
    "render_image_task": lambda s: one_off.render_image_task(s, "read", ["true"]),
    "render_query_task": lambda s: one_off.render_query_task(s, "SELECT 1"),
    "render_owner_task": lambda s: one_off.render_owner_task(s, 101, 101),
    "render_init_task": lambda s: one_off.render_init_task(
        s, "print(1)", [], SecretReference("id", "acme_admin", filename="odoo_admin_password")
    ),
    "render_backup_task": lambda s: backup_tasks.render_backup_task(s, "a.dump"),
    "render_drill_task": lambda s: backup_tasks.render_drill_task(s, "a.dump", "0" * 64),
    "render_prune_task": lambda s: backup_tasks.render_prune_task(s, ["a.dump"]),
    "render_copy_task": lambda s: db_copy.render_copy_task(s, COPY),
    "render_neutralize_task": lambda s: db_copy.render_neutralize_task(s, COPY),
    "render_check_task": lambda s: db_copy.render_check_task(s, COPY),
    "render_drop_task": lambda s: db_copy.render_drop_task(s, COPY),
    "render_rehearse_task": lambda s: db_copy.render_rehearse_task(s, COPY, ["sale"]),
    "render_filestore_copy_task": lambda s: db_copy.render_filestore_copy_task(s, COPY),
    "render_filestore_drop_task": lambda s: db_copy.render_filestore_drop_task(s, COPY),
    "render_checksum_task": render_checksum_task,
    "render_addons_task": render_addons_task,
    "render_manifest_task": render_manifest_task,
}


def every_rendered(spec: SiteSpec) -> list[ServiceSpec]:
    return [*render(spec).services.values(), *(make(spec) for make in TASKS.values())]


def shown(svc: ServiceSpec) -> str:
    """What the engine stores for the service, and so what `docker service inspect` prints."""
    return json.dumps(engine_spec(svc), default=str)


def test_every_task_renderer_is_checked_here() -> None:
    """A new one-off renderer must join TASKS, or its environment goes unchecked."""
    found = set()
    for path in [*(ROOT / "clusters" / "stack").glob("*.py"), *(ROOT / "clusters" / "sites").rglob("*.py")]:
        found |= set(re.findall(r"^def (render_\w+_task)\(", path.read_text(), re.MULTILINE))
    assert found == set(TASKS)


@pytest.mark.parametrize("store", ["session_redis", "session_db"])
def test_no_rendered_service_or_task_shows_a_password(make_spec, store: str) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(db_password=DB_PW, redis_password=REDIS_PW, session_store=store)
    for svc in every_rendered(spec):
        assert DB_PW not in shown(svc), svc.name
        assert DB_PW not in json.dumps(to_create_kwargs(svc), default=str), svc.name
        env = {k: v for k, v in svc.env.items() if k != "ODOO_SESSION_REDIS_PASSWORD"}
        rest = [env, svc.args, svc.command, svc.labels, svc.container_labels, svc.healthcheck]
        assert REDIS_PW not in json.dumps(rest, default=str), svc.name


def test_only_session_redis_odoo_processes_get_the_redis_password(make_spec) -> None:  # type: ignore[no-untyped-def]
    """The one password left in an environment, where session_redis reads it, and nowhere else."""
    spec = make_spec(db_password=DB_PW, redis_password=REDIS_PW)
    holders = {svc.name for svc in every_rendered(spec) if REDIS_PW in shown(svc)}
    assert holders == {
        "acme_odoo",
        "acme_cron",
        "acme_update",
        "acme_neutralize",
        "acme_rehearse",
        "acme_dbinit",
    }
    db_spec = make_spec(db_password=DB_PW, redis_password=REDIS_PW, session_store="session_db")
    assert not [svc.name for svc in every_rendered(db_spec) if REDIS_PW in shown(svc)]


def test_what_reads_the_database_gets_its_password_as_a_secret_file(make_spec) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(db_password=DB_PW, redis_password=REDIS_PW)
    stack = render(spec)
    (db_secret,) = stack.service("db").secret_files
    assert (db_secret.filename, db_secret.content) == ("db_password", DB_PW.encode())
    assert stack.service("db").env["POSTGRES_PASSWORD_FILE"] == DB_PASSWORD_FILE
    for role in ("odoo", "cron"):
        assert stack.service(role).secret_files == [db_secret]
        assert stack.service(role).env["PASSWORD_FILE"] == DB_PASSWORD_FILE
    for name in ("render_update_task", "render_query_task", "render_backup_task", "render_restore_task"):
        assert TASKS[name](spec).secret_files == [db_secret], name
    for name in ("render_copy_task", "render_neutralize_task", "render_rehearse_task", "render_init_task"):
        assert TASKS[name](spec).secret_files == [db_secret], name
    # Tasks that only read the image's files, or prepare folders, are given no password at all.
    for name in ("render_probe_task", "render_owner_task", "render_checksum_task", "render_manifest_task"):
        assert TASKS[name](spec).secret_files == [], name


def test_secrets_are_named_by_content_and_referenced_by_name_until_made(make_spec) -> None:  # type: ignore[no-untyped-def]
    first, same = render(make_spec(db_password=DB_PW)), render(make_spec(db_password=DB_PW))
    other = render(make_spec(db_password=DB_PW + "x"))
    name = first.service("db").secret_files[0].name
    assert name.startswith("acme_db_password-") and len(name) <= 64
    assert same.service("db").secret_files[0].name == name != other.service("db").secret_files[0].name
    (ref,) = engine_spec(first.service("db"))["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert (ref["SecretID"], ref["SecretName"], ref["File"]["Name"]) == (name, name, "db_password")
    assert "Db-Pw" not in repr(first.service("db"))


def run_sh(command: list[str], password_file: Path) -> subprocess.CompletedProcess:
    patched = [part.replace(DB_PASSWORD_FILE, str(password_file)) for part in command]
    return subprocess.run(
        patched, capture_output=True, text=True, timeout=10, check=False, env={"PATH": "/usr/bin:/bin"}
    )


def test_libpq_tools_get_the_password_from_the_file_inside_the_task(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text(DB_PW)
    script = run_sh(with_db_password(["sh", "-c", 'echo "$PGPASSWORD $0 $1"', "src", "dst"]), secret)
    assert (script.returncode, script.stdout) == (0, f"{DB_PW} src dst\n")
    program = run_sh(with_db_password(["printenv", "PGPASSWORD"]), secret)
    assert (program.returncode, program.stdout) == (0, f"{DB_PW}\n")
    missing = run_sh(with_db_password(["echo", "ran"]), tmp_path / "absent")
    assert missing.returncode == 1 and "ran" not in missing.stdout
