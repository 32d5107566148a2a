"""The one-off tasks that make a neutralized copy of a site's database, the first half of a rehearsal
(issue 18): copy, neutralize with the image's own Odoo, verify, drop; and its second half, the
update's `-u` run on the copy (render_rehearse_task), with a copy of production's filestore in the
site's rehearsal volume (render_filestore_copy_task). Pure: SiteSpec -> ServiceSpec.

The copy is pg_dump piped into pg_restore on the site's database server, made while the site serves:
`CREATE DATABASE ... TEMPLATE` (what `odoo db duplicate` does) first closes every connection to the
source, production's included. Odoo's `neutralize` runs each installed module's data/neutralize.sql
(base: every mail server off and one dummy server on `invalid` added so that no fallback server from
the command line is used, every cron off but the autovacuum, webhooks cut, `database.is_neutralized`
set); a module whose code is not in the image is skipped without a word, so the result is verified,
never assumed. Neutralize needs the database alone: it gets a scratch data dir, never the filestore.

The filestore copy lives in `<slug>_rehearsal`, a local volume on the database's node (the copy task,
the rehearsal's `-u` and the removal are pinned there), as `filestore/<copy>`: what Odoo reads as the
copy's filestore when the volume is its data dir. Production's filestore is mounted read-only, by the
copy task alone, and a filestore above FILESTORE_COPY_MAX_BYTES or the volume's free space is refused.
"""

from __future__ import annotations

from dataclasses import replace

from docker.types import Mount

from clusters.stack.one_off import _one_off, render_query_task, update_args
from clusters.stack.rules import DB_NAME_RE
from clusters.stack.secrets import with_db_password
from clusters.stack.service_parts import (
    db_node_constraint,
    db_password_secret,
    filestore_mount,
    odoo_process,
    session_env,
    volume,
)
from clusters.stack.service_spec import ServiceSpec
from clusters.stack.spec import PG_PORT, SiteSpec, SpecError, validate_modules

# `$0` is the source, `$1` the copy: names travel as arguments, never inside the script. Piped, and
# uncompressed (-Z0: compressing what is read back at once only costs CPU), dump and restore run at
# once; sh has no pipefail, so a failed pg_dump leaves a mark that fails the script.
COPY_SCRIPT = (
    'size=$(psql -At -d "$0" -c "SELECT pg_database_size(current_database())") '
    '&& dropdb --if-exists "$1" && createdb "$1" '
    '&& { pg_dump -Fc -Z0 "$0" || touch /tmp/dump.failed; } '
    '| pg_restore --no-owner --exit-on-error -d "$1" && [ ! -e /tmp/dump.failed ] '
    '&& echo "copied $0 to $1 ($size bytes)"'
)
# `$0` production's database (its filestore folder), `$1` the copy, `$2` the most bytes copied. Run as
# root: the copy keeps each file's owner, and the folders Odoo writes in get the data dir's owner.
FILESTORE_COPY_SCRIPT = """set -eu
src="/source/filestore/$0"; dst="/rehearsal/filestore/$1"
mkdir -p /rehearsal/filestore
chown --reference=/source /rehearsal /rehearsal/filestore
rm -rf "$dst"
if [ ! -d "$src" ]; then
  mkdir "$dst"; chown --reference=/source "$dst"
  echo "filestore copied: 0 files, 0 bytes ($0 has no filestore)"; exit 0
fi
bytes=$(du -sb "$src" | cut -f1); free_kib=$(df -Pk /rehearsal | awk 'NR == 2 {print $4}')
if [ "$bytes" -gt "$2" ]; then
  echo "the filestore of $0 holds $bytes bytes, above the rehearsal's limit of $2"; exit 3
fi
if [ $((bytes / 1024)) -ge "$free_kib" ]; then
  echo "the filestore of $0 holds $bytes bytes, more than the $free_kib KiB free for rehearsals"; exit 3
fi
cp -a "$src" "$dst"
echo "filestore copied: $(find "$dst" -type f | wc -l) files, $bytes bytes"
"""
FILESTORE_DROP_SCRIPT = 'rm -rf "/rehearsal/filestore/$0" && echo "removed the filestore copy $0"'
FILESTORE_COPY_MAX_BYTES = 100 * 1024**3
NEUTRALIZE_SCRATCH_BYTES = 256 * 1024**2
NEUTRALIZED_SQL = """SELECT
  (SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> 'invalid'),
  (SELECT count(*) FROM ir_cron c WHERE c.active AND c.id NOT IN (
     SELECT res_id FROM ir_model_data
      WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job')),
  (SELECT coalesce(max(value), '') FROM ir_config_parameter WHERE key = 'database.is_neutralized')"""


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
        command=with_db_password(["sh", "-c", COPY_SCRIPT, spec.db_name, target]),
        args=[],
        env=_pg_env(spec),
        mounts=[],
        secret_files=[db_password_secret(spec)],
    )


def render_neutralize_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """`odoo neutralize -d target` with the site's pinned image, environment and addons path (a
    module's neutralize.sql is found only where Odoo finds its code); never the site's own database."""
    if not _is_copy(spec, target):
        raise SpecError(f"neutralize runs on a copy, never on {spec.db_name} itself.")
    args = ["odoo", "neutralize", "-d", target]
    if spec.addons_path:
        args.append(f"--addons-path={','.join(spec.addons_path)}")
    process = odoo_process(spec)
    scratch = Mount(
        target=spec.data_dir,
        source=None,
        type="tmpfs",
        tmpfs_size=NEUTRALIZE_SCRATCH_BYTES,
        tmpfs_mode=0o1777,
    )
    return _one_off(
        spec,
        "neutralize",
        run_id,
        args=args,
        image=process["image"],
        env=process["env"],
        mounts=[scratch],
        secret_files=process["secret_files"],
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
    the database server: the session store's database is the copy, and the data dir is the site's
    rehearsal volume, where the copy's filestore was copied (what `-u` writes there goes with it)."""
    if not _is_copy(spec, target):
        raise SpecError(f"a rehearsal updates a copy, never {spec.db_name} itself.")
    mods = validate_modules(modules)
    if not spec.image_digest:
        raise SpecError("the image digest to rehearse is unknown: a rehearsal runs a pinned digest.")
    process = odoo_process(spec)
    env = dict(process["env"])
    if "SESSION_DB_URI" in env:
        env.update(session_env(replace(spec, db_name=target)))
    return _one_off(
        spec,
        "rehearse",
        run_id,
        args=update_args(spec, target, mods),
        image=process["image"],
        env=env,
        mounts=[rehearsal_mount(spec, spec.data_dir)],
        secret_files=process["secret_files"],
        constraints=[db_node_constraint(spec)],
        extra_labels={"traefik.enable": "false", "panel.modules": ",".join(mods), "panel.copy": target},
    )


def rehearsal_volume(spec: SiteSpec) -> str:
    return f"{spec.slug}_rehearsal"


def rehearsal_mount(spec: SiteSpec, target: str) -> Mount:
    """The site's rehearsal volume: every rehearsal's filestore copy, each in its own folder."""
    return volume(spec, "rehearsal", rehearsal_volume(spec), target)


def source_filestore_mount(spec: SiteSpec) -> Mount:
    """Production's filestore as the replicas mount it, read-only, at /source."""
    mount = filestore_mount(spec)
    mount["Target"], mount["ReadOnly"] = "/source", True
    return mount


def _filestore_task(
    spec: SiteSpec, kind: str, run_id: str | None, command: list[str], mounts: list[Mount]
) -> ServiceSpec:
    """As root with the site's pinned image, on the database's node (where the rehearsal volume is),
    on no network: a file copy needs none."""
    return _one_off(
        spec,
        kind,
        run_id,
        image=spec.odoo_image_ref,
        command=command,
        args=[],
        env={},
        mounts=mounts,
        user="0:0",
        networks=[],
        constraints=[db_node_constraint(spec)],
    )


def render_filestore_copy_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """Production's filestore of its database, copied as the filestore of `target`; prints
    `filestore copied: <files> files, <bytes> bytes`."""
    if not _is_copy(spec, target):
        raise SpecError(f"{target!r}: the filestore is only ever copied for a copy of {spec.db_name}.")
    command = ["sh", "-c", FILESTORE_COPY_SCRIPT, spec.db_name, target, str(FILESTORE_COPY_MAX_BYTES)]
    mounts = [source_filestore_mount(spec), rehearsal_mount(spec, "/rehearsal")]
    return _filestore_task(spec, "fscopy", run_id, command, mounts)


def render_filestore_drop_task(spec: SiteSpec, target: str, run_id: str | None = None) -> ServiceSpec:
    """The filestore copy of `target` removed from the rehearsal volume; production's is not mounted."""
    if not _is_copy(spec, target):
        raise SpecError(f"{target!r}: only a copy's filestore is ever removed.")
    command = ["sh", "-c", FILESTORE_DROP_SCRIPT, target]
    return _filestore_task(spec, "fsdrop", run_id, command, [rehearsal_mount(spec, "/rehearsal")])
