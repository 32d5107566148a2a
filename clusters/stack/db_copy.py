"""The one-off tasks that make a neutralized copy of a site's database, the first half of a rehearsal
(issue 18): copy, neutralize with the image's own Odoo, verify, drop; and its second half, the
update's `-u` run on the copy (render_rehearse_task). Pure: SiteSpec -> ServiceSpec.

The copy is pg_dump piped into pg_restore on the site's database server, made while the site serves:
`CREATE DATABASE ... TEMPLATE` (what `odoo db duplicate` does) first closes every connection to the
source, production's included. Odoo's `neutralize` runs each installed module's data/neutralize.sql
(base: every mail server off and one dummy server on `invalid` added so that no fallback server from
the command line is used, every cron off but the autovacuum, webhooks cut, `database.is_neutralized`
set); a module whose code is not in the image is skipped without a word, so the result is verified,
never assumed.
"""

from __future__ import annotations

from dataclasses import replace

from docker.types import Mount

from clusters.stack.one_off import _one_off, render_query_task, update_args
from clusters.stack.rules import DB_NAME_RE
from clusters.stack.service_parts import odoo_process, session_env
from clusters.stack.service_spec import ServiceSpec
from clusters.stack.spec import PG_PORT, SiteSpec, SpecError, validate_modules

# `$0` is the source, `$1` the copy: names travel as arguments, never inside the script.
COPY_SCRIPT = (
    'dropdb --if-exists "$1" && createdb "$1" && pg_dump -Fc -f /tmp/source.dump "$0" '
    '&& pg_restore --no-owner --exit-on-error -d "$1" /tmp/source.dump '
    '&& echo "copied $0 to $1 ($(stat -c %s /tmp/source.dump) bytes dumped)"'
)
NEUTRALIZED_SQL = """SELECT
  (SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> 'invalid'),
  (SELECT count(*) FROM ir_cron c WHERE c.active AND c.id NOT IN (
     SELECT res_id FROM ir_model_data
      WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job')),
  (SELECT coalesce(max(value), '') FROM ir_config_parameter WHERE key = 'database.is_neutralized')"""
# The rehearsal's data dir: what `-u` writes there (attachments, assets) is thrown away with the task.
SCRATCH_BYTES = 2 * 1024**3


def _is_copy(spec: SiteSpec, target: str) -> bool:
    """Only `<db>_<something>` is ever a copy: never the site's database, `postgres` or a template."""
    return bool(DB_NAME_RE.match(target)) and target.startswith(f"{spec.db_name}_")


def copy_name(spec: SiteSpec, suffix: str) -> str:
    name = f"{spec.db_name}_{suffix}"
    if not _is_copy(spec, name):
        raise SpecError(f"{name!r} cannot name a copy of {spec.db_name}.")
    return name


def _pg_env(spec: SiteSpec) -> dict[str, str]:
    return {
        "PGHOST": spec.service_name("db"),
        "PGPORT": str(PG_PORT),
        "PGUSER": spec.db_user,
        "PGPASSWORD": spec.db_password,
        "PGCONNECT_TIMEOUT": "10",
    }


def render_copy_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """`target` made anew as a copy of the site's database, with the database image's own tools."""
    if not _is_copy(spec, target):
        raise SpecError(f"{target!r} cannot be a copy of {spec.db_name}.")
    return _one_off(
        spec,
        "dbcopy",
        run_id,
        image=spec.db_image_ref,
        command=["sh", "-c", COPY_SCRIPT, spec.db_name, target],
        args=[],
        env=_pg_env(spec),
        mounts=[],
    )


def render_neutralize_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """`odoo neutralize -d target` with the site's pinned image, environment and addons path (a
    module's neutralize.sql is found only where Odoo finds its code); never the site's own database."""
    if not _is_copy(spec, target):
        raise SpecError(f"neutralize runs on a copy, never on {spec.db_name} itself.")
    args = ["odoo", "neutralize", "-d", target]
    if spec.addons_path:
        args.append(f"--addons-path={','.join(spec.addons_path)}")
    return _one_off(
        spec,
        "neutralize",
        run_id,
        args=args,
        **odoo_process(spec),
        extra_labels={"traefik.enable": "false"},
    )


def render_check_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """One row `mail servers|crons|is_neutralized` of `target` (see NEUTRALIZED_SQL)."""
    return render_query_task(spec, NEUTRALIZED_SQL, run_id, database=target)


def render_drop_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    if not _is_copy(spec, target):
        raise SpecError(f"{target!r}: only a copy is ever dropped.")
    return render_query_task(
        spec, f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)', run_id, database="postgres"
    )


def render_rehearse_task(
    spec: SiteSpec, target: str, modules: list[str] | tuple[str, ...], run_id: str | None = None
) -> ServiceSpec:
    """The update's own one-off (same options, update_args) on the copy `target`, with `spec`'s digest
    (a rehearsal's spec carries the digest to rehearse). Nothing of production is reachable from it but
    the database server: the session store's database is the copy, and the data dir is an empty
    tmpfs, never the site's filestore (this slice does not copy the filestore: `-u` on the copy
    finds no attachment file of production, and what it writes is dropped with the task)."""
    if not _is_copy(spec, target):
        raise SpecError(f"a rehearsal updates a copy, never {spec.db_name} itself.")
    mods = validate_modules(modules)
    if not spec.image_digest:
        raise SpecError("the image digest to rehearse is unknown: a rehearsal runs a pinned digest.")
    process = odoo_process(spec)
    env = dict(process["env"])
    if "SESSION_DB_URI" in env:
        env.update(session_env(replace(spec, db_name=target)))
    scratch = Mount(
        target=spec.data_dir, source=None, type="tmpfs", tmpfs_size=SCRATCH_BYTES, tmpfs_mode=0o1777
    )
    return _one_off(
        spec,
        "rehearse",
        run_id,
        args=update_args(spec, target, mods),
        image=process["image"],
        env=env,
        mounts=[scratch],
        extra_labels={"traefik.enable": "false", "panel.modules": ",".join(mods), "panel.copy": target},
    )
