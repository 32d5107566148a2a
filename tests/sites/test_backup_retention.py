"""Backups without an engine (issue 18): the retention's choice over dates, the drill's checksum run
by a real shell on a real file (libpq's tools stubbed on PATH), and the drill's comparison."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from clusters.models import Backup
from clusters.sites.backups.backup import read_backup_lines
from clusters.sites.backups.drill import compare
from clusters.sites.backups.retention import PRE_UPDATE_DAYS, Policy, Taken, backups_to_keep
from clusters.stack import SpecError
from clusters.stack.backup_tasks import render_drill_task, render_prune_task
from clusters.stack.one_off import render_restore_task
from tests import factories

UTC = datetime.UTC
START = datetime.datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # a Thursday


def daily(days: int, start: datetime.datetime = START, kind: str = "scheduled") -> list[Taken]:
    return [Taken(i + 1, start + datetime.timedelta(days=i), True, kind) for i in range(days)]


def dates(backups: list[Taken], ids: set[int]) -> set[datetime.date]:
    return {b.at.date() for b in backups if b.id in ids}


def test_100_days_of_daily_backups_keep_7_daily_4_weekly_3_monthly() -> None:
    backups = daily(100)  # 2026-01-01 .. 2026-04-10 (a Friday)
    now = backups[-1].at + datetime.timedelta(hours=1)
    kept = dates(backups, backups_to_keep(backups, Policy(), now))
    d = datetime.date
    last_7 = {d(2026, 4, 10) - datetime.timedelta(days=i) for i in range(7)}  # Apr 4 .. Apr 10
    weeks = {d(2026, 4, 5), d(2026, 3, 29), d(2026, 3, 22)}  # Sundays of the 3 weeks before Apr 6..12
    months = {d(2026, 3, 31), d(2026, 2, 28)}  # the last day of March and February (April's: Apr 10)
    assert kept == last_7 | weeks | months
    assert len(kept) == 11


def test_the_rules_follow_the_counts_given() -> None:
    backups = daily(100)
    now = backups[-1].at
    assert len(backups_to_keep(backups, Policy(daily=1, weekly=0, monthly=0), now)) == 1
    assert dates(backups, backups_to_keep(backups, Policy(daily=0, weekly=0, monthly=4), now)) == {
        datetime.date(2026, 4, 10),
        datetime.date(2026, 3, 31),
        datetime.date(2026, 2, 28),
        datetime.date(2026, 1, 31),
    }
    several_a_day = [Taken(i, START + datetime.timedelta(hours=i), True) for i in range(1, 49)]
    assert backups_to_keep(several_a_day, Policy(daily=2, weekly=0, monthly=0), START) == {45, 48}


def test_the_newest_good_backup_is_kept_whatever_the_policy() -> None:
    backups = [*daily(10), Taken(99, START + datetime.timedelta(days=20), ok=False)]
    kept = backups_to_keep(backups, Policy(0, 0, 0), START + datetime.timedelta(days=30))
    assert kept == {10, 99}  # the newest good one, and the failure after it (the page shows it)


def test_a_failed_backup_older_than_a_good_one_goes() -> None:
    backups = [Taken(1, START, ok=False), Taken(2, START + datetime.timedelta(hours=1))]
    assert backups_to_keep(backups, Policy(), START + datetime.timedelta(days=1)) == {2}


def test_pre_update_backups_are_kept_for_30_days_and_not_rotated() -> None:
    now = START + datetime.timedelta(days=60)
    young = Taken(1, now - datetime.timedelta(days=PRE_UPDATE_DAYS - 1), True, "pre-update")
    old = Taken(2, now - datetime.timedelta(days=PRE_UPDATE_DAYS + 1), True, "pre-update")
    scheduled = daily(3, start=now - datetime.timedelta(days=3))
    scheduled = [Taken(b.id + 10, b.at) for b in scheduled]
    kept = backups_to_keep([young, old, *scheduled], Policy(daily=1, weekly=0, monthly=0), now)
    assert kept == {1, 13}  # the young pre-update one and the newest scheduled one; not the old


def test_a_pre_update_backup_that_is_the_newest_good_one_stays() -> None:
    only = Taken(1, START, True, "pre-update")
    assert backups_to_keep([only], Policy(), START + datetime.timedelta(days=365)) == {1}


def test_days_are_counted_in_the_given_zone() -> None:
    # 23:30 and 00:30 UTC: two days in UTC, one in UTC-2; daily=1 keeps one of them either way
    late = Taken(1, datetime.datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    early = Taken(2, datetime.datetime(2026, 3, 2, 0, 30, tzinfo=UTC))
    minus_2 = datetime.timezone(datetime.timedelta(hours=-2))
    policy = Policy(daily=2, weekly=0, monthly=0)
    assert backups_to_keep([late, early], policy, early.at) == {1, 2}
    assert backups_to_keep([late, early], policy, early.at, local=lambda at: at.astimezone(minus_2)) == {2}


# -- the drill's checksum, by the rendered script ----------------------------------------------------

STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> "$CALLS"\n'


@pytest.fixture
def drill_dir(tmp_path: Path) -> Path:
    """A /backup stand-in, and psql, pg_restore, createdb and dropdb that only say they ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pg_restore", "createdb", "dropdb"):
        (bin_dir / tool).write_text(STUB)
    (bin_dir / "psql").write_text(STUB + "echo 'module|base|17.0.1.3'\necho 'count|res_users|4'\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    (tmp_path / "backup").mkdir()
    return tmp_path


def run_drill(
    folder: Path, name: str, expected: str, archive: tuple[str, str] | None = None
) -> tuple[int, str, str]:
    task = render_drill_task(factories.site_spec(), name, expected, "j1", archive=archive)
    return run_script(folder, task.command[-1], "set -u\n")


def run_script(folder: Path, script: str, start: str, **env: str) -> tuple[int, str, str]:
    """A task's script from `start` on (past the secret's prelude), by a real sh, /backup in `folder`
    and libpq's tools stubbed; its exit code, output and the tools it called."""
    script = script[script.index(start) :].replace("/backup/", f"{folder}/backup/")
    env = {"PATH": f"{folder}/bin:/usr/bin:/bin", "CALLS": str(folder / "calls"), **env}
    done = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    calls = (folder / "calls").read_text() if (folder / "calls").exists() else ""
    return done.returncode, done.stdout, calls


def test_a_dump_that_matches_its_checksum_is_restored_and_the_scratch_database_dropped(
    drill_dir: Path,
) -> None:
    dump = os.urandom(4096)
    (drill_dir / "backup" / "acme-1.dump").write_bytes(dump)
    code, out, calls = run_drill(drill_dir, "acme-1.dump", hashlib.sha256(dump).hexdigest())
    assert code == 0, out
    assert f"sha256={hashlib.sha256(dump).hexdigest()}" in out and "size=4096" in out
    assert "pg_restore --no-owner --exit-on-error --dbname=panel_drill" in calls
    assert calls.strip().splitlines()[-1] == "dropdb --if-exists panel_drill"  # on the way out
    assert read_backup_lines(out.splitlines())["row_counts"] == {"res_users": 4}


def test_a_truncated_dump_fails_on_its_checksum_naming_the_file(drill_dir: Path) -> None:
    dump = os.urandom(4096)
    (drill_dir / "backup" / "acme-1.dump").write_bytes(dump[:1000])
    code, out, calls = run_drill(drill_dir, "acme-1.dump", hashlib.sha256(dump).hexdigest())
    assert code == 4
    assert (
        "drill: backup file acme-1.dump (1000 bytes) does not match the checksum recorded at backup time"
        in out
    )
    assert "pg_restore" not in calls and "dropdb --if-exists panel_drill" in calls


def test_the_filestore_archive_is_checked_and_read_before_the_restore(drill_dir: Path) -> None:
    dump = os.urandom(512)
    (drill_dir / "backup" / "acme-1.dump").write_bytes(dump)
    subprocess.run(
        ["tar", "-czf", str(drill_dir / "backup" / "acme-1.filestore.tar.gz"), "-T", "/dev/null"], check=True
    )
    archive = (drill_dir / "backup" / "acme-1.filestore.tar.gz").read_bytes()
    good = ("acme-1.filestore.tar.gz", hashlib.sha256(archive).hexdigest())
    code, out, calls = run_drill(drill_dir, "acme-1.dump", hashlib.sha256(dump).hexdigest(), archive=good)
    assert code == 0 and "filestore archive acme-1.filestore.tar.gz verified" in out, out
    (drill_dir / "backup" / "acme-1.filestore.tar.gz").write_bytes(archive[:10])
    (drill_dir / "calls").unlink()
    code, out, calls = run_drill(drill_dir, "acme-1.dump", hashlib.sha256(dump).hexdigest(), archive=good)
    assert code == 8 and "drill: filestore archive acme-1.filestore.tar.gz does not match the checksum" in out
    assert "pg_restore" not in calls and "dropdb" in calls


def test_a_missing_dump_fails_naming_the_file(drill_dir: Path) -> None:
    code, out, _ = run_drill(drill_dir, "acme-2.dump", "")
    assert code == 3 and "drill: backup file acme-2.dump is missing or empty" in out


def test_the_tasks_refuse_what_is_not_a_checksum_or_a_plain_file_name() -> None:
    spec = factories.site_spec()
    for bad in ("abc", "A" * 64, "$(reboot)"):
        with pytest.raises(SpecError, match="checksum"):
            render_drill_task(spec, "acme.dump", bad)
    with pytest.raises(SpecError):
        render_prune_task(spec, ["ok.dump", "../etc/passwd"])
    with pytest.raises(SpecError):
        render_prune_task(spec, [])


# -- the comparison -----------------------------------------------------------------------------------


def test_the_drill_compares_modules_versions_and_row_counts() -> None:
    backup = Backup(modules={"base": "1.0", "sale": "2.0"}, row_counts={"res_users": 3, "res_partner": 9})
    same = {"modules": {"base": "1.0", "sale": "2.0"}, "row_counts": {"res_users": 3, "res_partner": 9}}
    assert compare(backup, same) == []
    other = {"modules": {"base": "1.1", "stock": "1.0"}, "row_counts": {"res_users": 2}}
    reasons = compare(backup, other)
    assert "modules installed at backup time but not restored: sale" in reasons
    assert "modules restored that were not installed at backup time: stock" in reasons
    assert "module versions differ: base 1.0 -> 1.1" in reasons
    assert "res_users: 2 rows restored, 3 at backup time" in reasons
    assert "res_partner: no table rows restored, 9 at backup time" in reasons
    assert (
        compare(backup, {"modules": {}, "row_counts": {}})[0]
        == "no installed module in the restored database"
    )


def test_the_backup_lines_are_read_into_facts() -> None:
    lines = [
        "module|base|17.0.1.3",
        "count|res_users|4",
        "size=123",
        "sha256=" + "a" * 64,
        "filestore_size=45",
    ]
    facts = read_backup_lines([*lines, "filestore_sha256=" + "b" * 64, "pg_dump: warning"])
    assert facts == {
        "modules": {"base": "17.0.1.3"},
        "row_counts": {"res_users": 4},
        "size": 123,
        "sha256": "a" * 64,
        "filestore_size": 45,
        "filestore_sha256": "b" * 64,
    }


# -- the restore's checks, by the rendered script ----------------------------------------------------


def run_restore(folder: Path, name: str, expected: str) -> tuple[int, str, str]:
    task = render_restore_task(factories.site_spec(), name, "j1", expected)
    return run_script(folder, task.command[-1], "test -s ", PGDATABASE="acme")


def test_a_restore_refuses_a_damaged_dump_before_dropping_anything_and_loads_in_one_transaction(
    drill_dir: Path,
) -> None:
    dump = os.urandom(4096)
    good = hashlib.sha256(dump).hexdigest()
    (drill_dir / "backup" / "acme-1.dump").write_bytes(dump[:1000])  # truncated on the backup root
    code, out, calls = run_restore(drill_dir, "acme-1.dump", good)
    assert code == 4 and "acme-1.dump does not match the checksum recorded at backup time" in out
    assert calls == ""  # pg_restore --clean never ran: the live database is as it was
    (drill_dir / "backup" / "acme-1.dump").write_bytes(dump)
    code, out, calls = run_restore(drill_dir, "acme-1.dump", good)
    assert code == 0, out
    assert "--clean --if-exists --no-owner --single-transaction --exit-on-error --dbname acme" in calls
    code, out, _ = run_restore(drill_dir, "acme-2.dump", good)
    assert code == 4 and "acme-2.dump is missing or empty" in out
