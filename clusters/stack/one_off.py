"""SiteSpec -> the one-off tasks run beside a site: module update, backup, restore, health probe, queries,
and the panel's own commands on the site's image.

Each is a Swarm service in `replicated-job` mode with restart condition none (with any other condition
Swarm starts a failing task again and again), named `<slug>_<kind>` or `<slug>_<kind>_<run id>`, labelled
with the site and a `<kind>-task` role so that the panel can find and remove it.
"""

from __future__ import annotations

import re
from typing import Any

from docker.types import Healthcheck, RestartPolicy, SecretReference, ServiceMode

from clusters.stack.backup_store import backup_mount, legacy_backup_volume
from clusters.stack.secrets import with_db_password
from clusters.stack.service_parts import (
    db_node_constraint,
    db_password_secret,
    odoo_common_args,
    odoo_process,
    service,
)
from clusters.stack.service_spec import ServiceSpec
from clusters.stack.spec import PG_PORT, SiteSpec, SpecError, validate_modules

PROBE_TRIES = 6
RUN_ID_RE = re.compile(r"^[a-z0-9]{1,16}$")
BACKUP_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _task_name(spec: SiteSpec, kind: str, run_id: str | None) -> str:
    if run_id is None:
        return spec.service_name(kind)
    if not RUN_ID_RE.match(run_id):
        raise SpecError(f"run id {run_id!r}: 1-16 lower-case letters or digits.")
    return f"{spec.service_name(kind)}_{run_id}"


def _one_off(spec: SiteSpec, kind: str, run_id: str | None, **kw: Any) -> ServiceSpec:
    """A job that runs once: restart condition none, or a failing task is started again and again.
    Update/rollback settings do not apply to job modes."""
    return service(
        spec,
        f"{kind}-task",
        name=_task_name(spec, kind, run_id),
        mode=ServiceMode("replicated-job", replicas=1, concurrency=1),
        restart_policy=RestartPolicy(condition="none"),
        healthcheck=Healthcheck(test=["NONE"]),
        **kw,
    )


def render_update_task(
    spec: SiteSpec, modules: list[str] | tuple[str, ...], run_id: str | None = None, *, install: bool = False
) -> ServiceSpec:
    """`odoo -d DB -u a,b --stop-after-init --no-http` on the site's network with the same digest,
    mounts and env. `--no-http` because a prefork server still binds the port with
    --stop-after-init. install=True runs `-i` (new modules: `-u` ignores them).

    On the database's node: with the site at 0 replicas that node alone still has a task on the
    site's overlay; a node that left it re-joins for this task and may not resolve the database's
    name for 30 s and more (CI saw `could not translate host name "<slug>_db"` for the whole of the
    entrypoint's 30 s wait). The checksum task of the update's Check runs there first, so the image
    is pulled on that node before the site goes down."""
    mods = validate_modules(modules)
    if not spec.image_digest:
        raise SpecError(
            "the site's image digest is unknown: deploy first, the update must run the same digest."
        )
    return _one_off(
        spec,
        "update",
        run_id,
        args=update_args(spec, spec.db_name, mods, install=install),
        **odoo_process(spec),
        constraints=[db_node_constraint(spec)],
        extra_labels={"traefik.enable": "false", "panel.modules": ",".join(mods)},
    )


def update_args(spec: SiteSpec, database: str, mods: tuple[str, ...], *, install: bool = False) -> list[str]:
    """The command line of a one-off `-u` (or `-i`) on `database`: the update's, and a rehearsal's on
    a copy (clusters/stack/db_copy.py), so that both run exactly the same Odoo options."""
    return [
        "odoo",
        "-d",
        database,
        "-i" if install else "-u",
        ",".join(mods),
        "--stop-after-init",
        "--no-http",
        *odoo_common_args(spec),
        "--workers=0",
        "--max-cron-threads=0",
        *spec.extra_args,
    ]


def backup_volume(spec: SiteSpec) -> str:
    """The old node-local volume of backups (backup_store.py)."""
    return legacy_backup_volume(spec)


def _backup_task(
    spec: SiteSpec, kind: str, filename: str, script: str, run_id: str | None, *, read_only: bool = False
) -> ServiceSpec:
    """A one-off with the db image, pinned to the database's node, with the site's backup folder at
    /backup (backup_store.py: under the cluster's backup root, which every node reaches, or the old
    node-local volume); `read_only` for the tasks that only read it."""
    if not BACKUP_FILE_RE.match(filename):
        raise SpecError(f"backup file name {filename!r}: letters, digits, '.', '_' or '-' only.")
    return _one_off(
        spec,
        kind,
        run_id,
        image=spec.db_image_ref,
        command=with_db_password(["sh", "-c", script]),
        args=[],
        env={
            "PGHOST": spec.service_name("db"),
            "PGPORT": str(PG_PORT),
            "PGUSER": spec.db_user,
            "PGDATABASE": spec.db_name,
        },
        mounts=[backup_mount(spec, read_only=read_only)],
        constraints=[db_node_constraint(spec)],
        secret_files=[db_password_secret(spec)],
    )


def render_restore_task(
    spec: SiteSpec, filename: str, run_id: str | None = None, sha256: str = ""
) -> ServiceSpec:
    """pg_restore of a backup over the site's database (the site must be scaled to 0 first). A dump
    whose checksum differs from the one recorded at backup time (truncated, damaged) is refused before
    anything is dropped, and the restore is one transaction: a load that fails halfway leaves the
    database as it was, never emptied by --clean."""
    if sha256 and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise SpecError(f"backup checksum {sha256!r}: 64 lowercase hex digits expected.")
    path = f"/backup/{filename}"
    check = f'[ "$(sha256sum {path} | cut -d " " -f 1)" = "{sha256}" ]' if sha256 else "true"
    script = (
        f'test -s {path} || {{ echo "{path} is missing or empty"; exit 4; }}; '
        f'{check} || {{ echo "{path} does not match the checksum recorded at backup time"; exit 4; }}; '
        "pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error "
        f'--dbname "$PGDATABASE" {path}'
    )
    return _backup_task(spec, "restore", filename, script, run_id, read_only=True)


def render_probe_task(spec: SiteSpec, run_id: str | None = None) -> ServiceSpec:
    """A one-off task on the site's network that asks every Odoo task for /web/health. Probing from
    inside proves what Traefik will see: the task IPs answer (Traefik routes to task IPs). Each
    task gets PROBE_TRIES tries 2 s apart: a task new to a node's overlay may not be reachable from
    another node for a few seconds after Swarm saw it healthy from inside (seen in the lab)."""
    target = f"tasks.{spec.service_name('odoo')}"
    script = (
        f"ips=$(getent ahostsv4 {target} | awk '{{print $1}}' | sort -u); "
        f'[ -n "$ips" ] || {{ echo "no Odoo task resolves as {target}"; exit 2; }}; rc=0; '
        f'for ip in $ips; do n=0; until curl -fsS -m 5 "http://$ip:8069/web/health" >/dev/null; do '
        f"n=$((n + 1)); [ $n -lt {PROBE_TRIES} ] || break; sleep 2; done; "
        f'if [ $n -lt {PROBE_TRIES} ]; then echo "$ip healthy"; else echo "$ip UNHEALTHY"; rc=1; fi; done; '
        "exit $rc"
    )
    return render_image_task(spec, "probe", ["sh", "-c", script], run_id=run_id)


def render_image_task(
    spec: SiteSpec,
    kind: str,
    command: list[str],
    args: list[str] | None = None,
    *,
    run_id: str | None = None,
    on_network: bool = True,
    on_db_node: bool = False,
) -> ServiceSpec:
    """A one-off task with the site's pinned Odoo image running one of the panel's own commands: no
    environment, no mounts, never routed by Traefik; on the site's network unless it only reads
    the image's own files (then it can run before the network exists). `on_db_node`: where the
    module update's one-off will run (render_update_task), so that it pulls the image there."""
    return _one_off(
        spec,
        kind,
        run_id,
        image=spec.odoo_image_ref,
        command=command,
        args=args or [],
        env={},
        mounts=[],
        extra_labels={"traefik.enable": "false"},
        **({} if on_network else {"networks": []}),
        **({"constraints": [db_node_constraint(spec)]} if on_db_node else {}),
    )


def render_query_task(
    spec: SiteSpec, sql: str, run_id: str | None = None, *, database: str | None = None
) -> ServiceSpec:
    """psql in a one-off task on the site's network (the database is only reachable there), with
    the db image; prints rows as `a|b|c`. `sql` is the panel's own constant, never user input.
    `database`: another database of the site's server than its own (e.g. postgres). On the
    database's node: its image is there, and so is the overlay (render_update_task says why)."""
    return _one_off(
        spec,
        "query",
        run_id,
        image=spec.db_image_ref,
        command=with_db_password(["psql"]),
        args=[
            "-h",
            spec.service_name("db"),
            "-U",
            spec.db_user,
            "-d",
            database or spec.db_name,
            "-At",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        env={"PGCONNECT_TIMEOUT": "10"},
        mounts=[],
        constraints=[db_node_constraint(spec)],
        secret_files=[db_password_secret(spec)],
    )


def render_owner_task(spec: SiteSpec, uid: int, gid: int, run_id: str | None = None) -> ServiceSpec:
    """As root, with the site's filestore where Odoo keeps it: hand the image's user (uid:gid, read from
    the image) whatever there is not theirs yet, so that Odoo can write sessions and attachments. Only
    what differs is touched (a large filestore owned right costs one walk); symlinks are not followed."""
    if uid < 0 or gid < 0:
        raise SpecError(f"uid {uid} / gid {gid}: not a user of the image.")
    script = (
        f'find "$0" -xdev \\( ! -user {uid} -o ! -group {gid} \\) -exec chown -h {uid}:{gid} {{}} + '
        '&& echo "owner $(stat -c %u:%g "$0")"'
    )
    return _one_off(
        spec,
        "owner",
        run_id,
        image=spec.odoo_image_ref,
        command=["sh", "-c", script, spec.data_dir],
        args=[],
        env={},
        mounts=[odoo_process(spec)["mounts"][0]],
        user="0:0",
        networks=[],
    )


def render_init_task(
    spec: SiteSpec, script: str, args: list[str], secret: SecretReference, run_id: str | None = None
) -> ServiceSpec:
    """The panel's database initialisation script (clusters/sites/db_init.py) with the site's pinned image,
    environment and filestore on its network, PG* set for libpq but the password (the script reads the
    db_password secret, as the image's entrypoint would), the admin password as a secret file."""
    process = odoo_process(spec)
    pg_env = {
        "PGHOST": spec.service_name("db"),
        "PGPORT": str(PG_PORT),
        "PGUSER": spec.db_user,
    }
    return _one_off(
        spec,
        "dbinit",
        run_id,
        image=process["image"],
        command=["python3", "-c", script],
        args=args,
        env={**process["env"], **pg_env},
        mounts=process["mounts"],
        secrets=[secret],
        secret_files=process["secret_files"],
        extra_labels={"traefik.enable": "false"},
    )
