"""`site backup|backups|drill` and the beat tick, on the panel's database (jobs only enqueued, no
worker): what each starts, and what each refuses (exit 2) without starting anything."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from clusters.models import Backup, Site
from clusters.sites.backups.schedule import backups_due, drills_due
from jobs import control
from jobs.models import Job
from tests import factories
from tests.commands import run

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def _no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)  # the job stays queued


@pytest.fixture
def acme(personas) -> Site:  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="prod"), slug="acme", image_digest=DIGEST)
    Site.objects.filter(pk=site.pk).update(status=Site.Status.HEALTHY)
    site.refresh_from_db()
    return site


def backup(site: Site, hours_ago: float = 1, **kw) -> Backup:  # type: ignore[no-untyped-def]
    made = Backup.objects.create(site=site, filename=f"{site.db_name}-{hours_ago}.dump", **kw)
    at = timezone.now() - datetime.timedelta(hours=hours_ago)
    Backup.objects.filter(pk=made.pk).update(created_at=at)
    made.refresh_from_db()
    return made


def test_site_backup_starts_a_manual_backup_as_the_user(acme) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("site", "--as", "bob", "backup", "acme")
    job = Job.objects.get(kind="backup")
    assert code == 0 and f"job {job.pk} (backup) started" in out
    assert (job.params, job.created_by_name, job.mutating) == ({"backup_kind": "manual"}, "bob", False)


def test_site_backups_lists_the_contract_keys_newest_first(acme) -> None:  # type: ignore[no-untyped-def]
    old = backup(acme, 48, kind="scheduled", sha256="b" * 64, size_bytes=10, digest=DIGEST, duration_s=1.5)
    new = backup(acme, 1, kind="pre-update", status="failed", error="pg_dump: no space")
    code, out, _ = run("site", "--as", "alice", "backups", "acme", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [new.pk, old.pk]
    keys = {"id", "kind", "created_at", "size_bytes", "sha256", "duration_s", "digest", "status"}
    assert keys | {"drilled_at", "drill_result"} <= set(rows[0])
    assert (rows[1]["kind"], rows[1]["sha256"], rows[1]["duration_s"], rows[1]["drilled_at"]) == (
        "scheduled",
        "b" * 64,
        1.5,
        None,
    )
    assert (rows[0]["status"], rows[0]["kind"]) == ("failed", "pre-update")


def test_site_drill_defaults_to_the_newest_good_backup(acme) -> None:  # type: ignore[no-untyped-def]
    good = backup(acme, 5)
    backup(acme, 1, status="failed")
    code, out, _ = run("site", "--as", "bob", "drill", "acme", "--json")
    job = Job.objects.get(kind="drill")
    assert code == 0 and job.params == {"backup_id": good.pk}
    assert json.loads(out) == {"job": job.pk}  # stdout holds the JSON alone (the log goes to stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "acme has no good backup"),
        (("--backup", "999999"), "no good backup 999999 of acme"),
        (("--backup", "FAILED"), "no good backup"),
        (("--backup", "FOREIGN"), "no good backup"),
    ],
)
def test_site_drill_refuses_without_a_good_backup_of_that_site(acme, args, message) -> None:  # type: ignore[no-untyped-def]
    failed = backup(acme, 1, status="failed")
    foreign = backup(factories.site(acme.cluster, slug="other"), 1)
    args = tuple({"FAILED": str(failed.pk), "FOREIGN": str(foreign.pk)}.get(a, a) for a in args)
    code, _, error = run("site", "--as", "bob", "drill", "acme", *args, "--json")
    assert (code, Job.objects.count()) == (2, 0) and message in error, error


def test_viewers_may_list_but_neither_back_up_nor_drill(acme) -> None:  # type: ignore[no-untyped-def]
    backup(acme, 1)
    for args in (("backup", "acme"), ("drill", "acme")):
        code, _, error = run("site", "--as", "alice", *args)
        assert code == 2 and "needs the operator role" in error
    assert Job.objects.count() == 0
    assert run("site", "--as", "alice", "backups", "acme")[0] == 0


def test_an_unknown_site_is_refused(acme) -> None:  # type: ignore[no-untyped-def]
    for args in (("backup", "nope"), ("backups", "nope", "--json"), ("drill", "nope")):
        assert run("site", *args)[0] == 2


# -- the beat tick ----------------------------------------------------------------------------------


def test_a_backup_is_due_when_the_last_good_scheduled_one_is_older_than_the_interval(acme) -> None:  # type: ignore[no-untyped-def]
    undeployed = factories.site(acme.cluster, slug="new")  # no digest: nothing to back up
    [job_id] = backups_due()
    assert Job.objects.get(pk=job_id).params == {"backup_kind": "scheduled"}
    assert backups_due() == []  # the first still runs
    Job.objects.filter(pk=job_id).update(state="succeeded", finished_at=timezone.now())
    backup(acme, 2, kind="scheduled")
    assert backups_due() == []  # 2 h < 24 h
    assert len(backups_due(now=timezone.now() + datetime.timedelta(hours=23))) == 1
    assert not Job.objects.filter(site=undeployed).exists()


def test_failed_manual_and_pre_update_backups_do_not_count_and_0_turns_it_off(acme) -> None:  # type: ignore[no-untyped-def]
    backup(acme, 1, kind="scheduled", status="failed")
    backup(acme, 1, kind="manual")
    backup(acme, 1, kind="pre-update")
    assert len(backups_due()) == 1
    Job.objects.all().update(state="succeeded", finished_at=timezone.now())
    Site.objects.filter(pk=acme.pk).update(backup_interval_hours=0)
    assert backups_due(now=timezone.now() + datetime.timedelta(days=30)) == []


def test_a_drill_is_due_weekly_of_the_newest_good_backup(acme, settings) -> None:  # type: ignore[no-untyped-def]
    assert drills_due() == []  # no backup yet
    newest = backup(acme, 1)
    [job_id] = drills_due()
    assert Job.objects.get(pk=job_id).params == {"backup_id": newest.pk}
    assert drills_due() == []  # it still runs
    Job.objects.filter(pk=job_id).update(state="succeeded", finished_at=timezone.now())
    Backup.objects.filter(pk=newest.pk).update(drilled_at=timezone.now(), drill_ok=True)
    assert drills_due(now=timezone.now() + datetime.timedelta(days=6)) == []
    assert len(drills_due(now=timezone.now() + datetime.timedelta(days=8))) == 1
    Job.objects.all().update(state="succeeded", finished_at=timezone.now())
    settings.BACKUP_DRILL_EVERY_DAYS = 0
    assert drills_due(now=timezone.now() + datetime.timedelta(days=80)) == []


# -- the site page ----------------------------------------------------------------------------------


def test_the_site_page_lists_backups_with_their_drill_and_buttons_for_operators(acme, personas) -> None:  # type: ignore[no-untyped-def]
    for hours in range(1, 13):
        backup(acme, hours, sha256="c" * 64)
    proven = backup(acme, 0.5, drilled_at=timezone.now(), drill_ok=True, drill_result="restorable")
    failed = backup(acme, 0.2, status="failed", error="pg_dump: disk full")
    page = personas.client("operator").get("/sites/acme/").content.decode()
    assert "Back up now" in page and "never drilled" in page and "restorable</span>" in page
    assert f"/sites/acme/backups/{proven.pk}/drill/" in page and f"/backups/{failed.pk}/drill/" not in page
    assert "pg_dump: disk full" in page and "Page 1 of 2" in page and "14 in all" in page
    older = personas.client("viewer").get("/sites/acme/?backups=2").content.decode()
    assert "Page 2 of 2" in older and "Back up now" not in older and "/drill/" not in older
    response = personas.client("operator").post(f"/sites/acme/backups/{failed.pk}/drill/")
    assert response.status_code == 404 and not Job.objects.filter(kind="drill").exists()


def test_a_failed_backup_is_kept_failed_with_why_and_fails_its_job(acme, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from clusters.sites.backups import backup as backup_module
    from jobs.runner import JobFailed

    lines = ["pg_dump: error: could not write to file: No space left on device"]
    monkeypatch.setattr(backup_module, "run_db_reader", lambda *args, **kw: (1, lines))
    runner = type("Runner", (), {"job": factories.job(acme), "log": lambda self, line: None})()
    with pytest.raises(JobFailed, match="No space left on device"):
        backup_module.take_backup(runner, None, acme, "r1", kind="scheduled")  # type: ignore[arg-type]
    made = Backup.objects.get(site=acme)
    assert (made.status, made.kind, made.sha256, made.digest) == ("failed", "scheduled", "", DIGEST)
    assert "No space left" in made.error and made.duration_s is not None


def test_the_schedule_and_retention_are_site_settings_kept_when_not_given(acme) -> None:  # type: ignore[no-untyped-def]
    code, _, error = run(
        "site", "edit", "acme", "--set", "backup_interval_hours=0", "--set", "backup_keep_daily=14"
    )
    assert code == 0, error
    assert run("site", "edit", "acme", "--replicas", "3")[0] == 0
    acme.refresh_from_db()
    assert (acme.backup_interval_hours, acme.backup_keep_daily, acme.backup_keep_weekly, acme.replicas) == (
        0,
        14,
        4,
        3,
    )


def test_a_second_drill_of_a_site_is_refused_by_the_job(acme) -> None:  # type: ignore[no-untyped-def]
    from jobs import runner

    good = backup(acme, 1)
    first = control.start("drill", site=acme, params={"backup_id": good.pk})
    second = control.start("drill", site=acme, params={"backup_id": good.pk})
    assert runner.execute(second.pk) == "failed"
    second.refresh_from_db()
    assert second.result == {"refused": f"another drill of acme is running (job #{first.pk})"}


@pytest.mark.parametrize(
    "fields, why",
    [({"status": Backup.Status.FAILED}, "failed"), ({"drill_ok": False}, "failed its restore drill")],
)
def test_a_failed_or_unrestorable_backup_is_never_restored_over_the_database(acme, fields, why) -> None:  # type: ignore[no-untyped-def]
    from jobs import runner

    bad = backup(acme, 1, **fields)
    job = control.start("restore", site=acme, params={"backup_id": bad.pk})
    assert runner.execute(job.pk) == "failed"  # before any engine is reached: nothing scaled
    job.refresh_from_db()
    assert job.error == f"backup {bad.filename} {why}: it is not restored over the database"


def test_only_an_admin_keeps_fewer_backups_or_turns_them_off(acme, personas) -> None:  # type: ignore[no-untyped-def]
    operator, admin = personas.users["operator"].username, personas.users["admin"].username
    for setting in ("backup_keep_daily=2", "backup_keep_monthly=0", "backup_interval_hours=0"):
        code, _, error = run("site", "--as", operator, "edit", "acme", "--set", setting)
        assert code == 2 and "Only an admin may keep fewer backups" in error, (setting, error)
    assert (
        run("site", "--as", operator, "edit", "acme", "--set", "backup_keep_daily=14")[0] == 0
    )  # more: fine
    assert run("site", "--as", admin, "edit", "acme", "--set", "backup_keep_daily=2")[0] == 0
    acme.refresh_from_db()
    assert (acme.backup_keep_daily, acme.backup_keep_monthly, acme.backup_interval_hours) == (2, 3, 24)


def test_a_daily_backup_written_minutes_after_its_tick_is_due_at_the_same_tick_next_day(acme) -> None:  # type: ignore[no-untyped-def]
    backup(acme, 24 - 0.3, kind="scheduled")  # the row came 18 minutes after yesterday's tick
    assert len(backups_due()) == 1  # without the slack it would wait for the next tick: a day slips
    Job.objects.update(state="succeeded", finished_at=timezone.now())
    Backup.objects.all().delete()
    backup(acme, 23, kind="scheduled")
    assert backups_due() == []
