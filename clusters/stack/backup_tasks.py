"""SiteSpec -> the one-off tasks of backups (issue 18): take one, drill one, delete old ones.

Each runs with the database image on the database's node, the site's backup folder at /backup: under
the cluster's backup root, which every node reaches, so a backup survives the database's node
(backup_store.py; read-only for the drill, which only reads it). The backup also mounts the
filestore, read-only, to archive it beside the dump.

The backup reads the installed modules and the row counts of a few core tables in one transaction
and hands its snapshot to pg_dump (`--snapshot`), so the drill compares a restore with what the dump
itself holds, on a site that serves (and writes) the whole time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from string import Template

from clusters.stack.host_access import refuse_host_reach
from clusters.stack.one_off import BACKUP_FILE_RE, _backup_task
from clusters.stack.service_parts import filestore_mount
from clusters.stack.service_spec import ServiceSpec
from clusters.stack.spec import SiteSpec, SpecError

# Tables every Odoo database has (the stand-in has some): a drill compares their row counts.
CORE_TABLES = (
    "ir_attachment",
    "ir_model_data",
    "ir_module_module",
    "res_company",
    "res_partner",
    "res_users",
)
DRILL_DATABASE = "panel_drill"  # on the site's own database server; dropped whatever happens
READ_SQL = (  # constants only
    "SELECT 'module|' || name || '|' || COALESCE(latest_version, '') FROM ir_module_module "  # noqa: S608
    "WHERE state = 'installed' ORDER BY name;\n"
    "SELECT 'count|' || t || '|' || (xpath('/row/c/text()', query_to_xml("
    "format('SELECT count(*) AS c FROM %I', t), false, true, '')))[1]::text "
    f"FROM unnest(ARRAY[{', '.join(repr(t) for t in CORE_TABLES)}]) AS t "
    "WHERE to_regclass(t) IS NOT NULL ORDER BY t;\n"
)
SHA256_RE = re.compile(r"^([0-9a-f]{64})?$")
PSQL = "psql -X -q -v ON_ERROR_STOP=1 -At -F '|'"


def filestore_archive_name(dump: str) -> str:
    return dump.rsplit(".", 1)[0] + ".filestore.tar.gz"


def _checked(names: list[str]) -> list[str]:
    for name in names:
        if not BACKUP_FILE_RE.match(name):
            raise SpecError(f"backup file name {name!r}: letters, digits, '.', '_' or '-' only.")
    return names


def _db_node_task(
    spec: SiteSpec,
    kind: str,
    script: str,
    run_id: str | None,
    names: list[str],
    *,
    filestore: bool = False,
    read_only: bool = False,
) -> ServiceSpec:
    """one_off's backup task (its image, backup folder, node and password handling), the folder
    read-only when the task only reads it, with the filestore mounted read-only beside it when asked,
    held to the host rule again."""
    task = _backup_task(spec, kind, _checked(names)[0], script, run_id, read_only=read_only)
    if not filestore:
        return task
    mount = filestore_mount(spec)
    mount["ReadOnly"] = True
    return refuse_host_reach(spec, replace(task, mounts=[*task.mounts, mount]))


BACKUP_SCRIPT = Template("""set -eu
cd /backup
export DUMP=/backup/$dump
rm -f $dump $archive
$psql <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT pg_export_snapshot() AS snapshot \\gset
\\setenv PANEL_SNAPSHOT :snapshot
${read_sql}\\! pg_dump --format=custom --snapshot="$$PANEL_SNAPSHOT" --file="$$DUMP" || rm -f "$$DUMP"
COMMIT;
SQL
test -s $dump || { echo "pg_dump failed: /backup/$dump was not written"; exit 1; }
stat -c 'size=%s' $dump
echo "sha256=$$(sha256sum $dump | cut -d ' ' -f 1)"
if [ -d $filestore/$db ]; then tar -C $filestore -czf $archive $db; else tar -czf $archive -T /dev/null; fi
stat -c 'filestore_size=%s' $archive
echo "filestore_sha256=$$(sha256sum $archive | cut -d ' ' -f 1)"
""")
DRILL_SCRIPT = Template("""set -u
F=/backup/$dump
drop() { dropdb --if-exists $scratch || echo "drill: could not drop the scratch database $scratch"; }
trap drop EXIT
trap 'exit 143' TERM INT
[ -s "$$F" ] || { echo "drill: backup file $dump is missing or empty"; exit 3; }
size=$$(stat -c %s "$$F"); sum=$$(sha256sum "$$F" | cut -d " " -f 1)
echo "size=$$size"; echo "sha256=$$sum"
if [ -n "$expected" ] && [ "$$sum" != "$expected" ]; then
  echo "drill: backup file $dump ($$size bytes) does not match the checksum recorded at backup time: \\
it is truncated or altered"; exit 4
fi
${archive_check}drop
createdb $scratch || { echo "drill: could not create the scratch database $scratch"; exit 5; }
pg_restore --no-owner --exit-on-error --dbname=$scratch "$$F" || {
  echo "drill: pg_restore of $dump failed (exit $$?)"; exit 6; }
$psql -d $scratch <<'SQL' || { echo "drill: reading the restored database failed"; exit 7; }
${read_sql}SQL
echo restored
""")

ARCHIVE_CHECK = Template("""A=/backup/$archive
[ -s "$$A" ] || { echo "drill: filestore archive $archive is missing or empty"; exit 8; }
if [ "$$(sha256sum "$$A" | cut -d " " -f 1)" != "$sha" ]; then
  echo "drill: filestore archive $archive does not match the checksum recorded at backup time: \\
it is truncated or altered"; exit 8
fi
tar -tzf "$$A" > /dev/null || { echo "drill: filestore archive $archive cannot be read"; exit 8; }
echo "filestore archive $archive verified"
""")


def render_backup_task(spec: SiteSpec, filename: str, run_id: str | None = None) -> ServiceSpec:
    """pg_dump (custom format) of the snapshot the modules and counts were read in, then a tar of the
    filestore; prints `module|name|version`, `count|table|rows`, `size=`, `sha256=`, `filestore_size=`
    and `filestore_sha256=`."""
    dump, archive = _checked([filename, filestore_archive_name(filename)])
    script = BACKUP_SCRIPT.substitute(
        dump=dump,
        archive=archive,
        psql=PSQL,
        read_sql=READ_SQL,
        filestore=f"{spec.data_dir}/filestore",
        db=spec.db_name,
    )
    return _db_node_task(spec, "backup", script, run_id, [dump, archive], filestore=True)


def render_drill_task(
    spec: SiteSpec,
    filename: str,
    expected_sha256: str,
    run_id: str | None = None,
    *,
    archive: tuple[str, str] | None = None,
) -> ServiceSpec:
    """Restore a dump into a scratch database of the site's server, read it as the backup did, and
    drop it on any exit (a leftover of a killed drill first); `archive`: the filestore archive's name
    and checksum, checked and read through first. Lines `drill: ...` say why it failed."""
    for sha in (expected_sha256, archive[1] if archive else ""):
        if not SHA256_RE.match(sha):
            raise SpecError(f"checksum {sha!r}: 64 hex digits, or none.")
    names = [filename, *([archive[0]] if archive else [])]
    check = ARCHIVE_CHECK.substitute(archive=archive[0], sha=archive[1]) if archive and archive[1] else ""
    script = DRILL_SCRIPT.substitute(
        dump=filename,
        expected=expected_sha256,
        scratch=DRILL_DATABASE,
        psql=PSQL,
        read_sql=READ_SQL,
        archive_check=check,
    )
    return _db_node_task(spec, "drill", script, run_id, _checked(names), read_only=True)


def render_prune_task(spec: SiteSpec, filenames: list[str], run_id: str | None = None) -> ServiceSpec:
    """Delete backup files from the site's backup folder (retention); prints `removed=N`."""
    if not filenames:
        raise SpecError("no backup file to delete.")
    names = _checked(list(filenames))
    paths = " ".join(f"/backup/{name}" for name in names)
    return _db_node_task(spec, "prune", f"set -eu\nrm -f {paths}\necho removed={len(names)}\n", run_id, names)
