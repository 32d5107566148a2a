"""The audit table is append-only at the database (real PostgreSQL), and `audit verify` catches a
row altered by someone who bypassed the triggers."""

import io
from contextlib import redirect_stderr

import pytest
from django.contrib.auth import get_user_model
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from panel.audit import record
from panel.audit import triggers as audit_triggers
from panel.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(db):  # type: ignore[no-untyped-def]
    return [record("site.edit", actor="system", target=f"site{n}", after={"n": n}) for n in range(5)]


def refused(sql: str, params: list | None = None) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value)


def test_update_and_delete_fail_at_the_database(events):  # type: ignore[no-untyped-def]
    assert connection.vendor == "postgresql"
    first = events[0]
    assert "append-only" in refused("UPDATE panel_auditevent SET detail = 'x' WHERE id = %s", [first.pk])
    assert "append-only" in refused("DELETE FROM panel_auditevent WHERE id = %s", [first.pk])
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=first.pk).update(detail="x"),
        lambda: AuditEvent.objects.filter(pk=first.pk).delete(),
        lambda: first.delete(),
        lambda: AuditEvent.objects.filter(pk=first.pk).first().save(),  # type: ignore[union-attr]
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.get(pk=first.pk).detail == ""
    assert AuditEvent.objects.count() == 5


def test_truncate_is_refused(events):  # type: ignore[no-untyped-def]
    # Django's test databases allow TRUNCATE (the runner empties tables between transactional
    # tests); the strict setting shows what every other database does.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL panel.audit_strict = 'on'")
    assert "TRUNCATE refused" in refused("TRUNCATE panel_auditevent")
    assert AuditEvent.objects.count() == 5


def test_deleting_users_sites_and_clusters_leaves_their_events(personas):  # type: ignore[no-untyped-def]
    user = factories.user("gone", role="operator")
    cluster = factories.cluster(name="temp")
    site = factories.site(cluster, slug="temp-site")
    event, user_pk = record("site.deploy", actor=user, target=site), user.pk
    site.delete()
    cluster.delete()
    user.delete()  # no foreign key: nothing to SET NULL, so the trigger is never asked
    event.refresh_from_db()
    assert (event.actor_username, event.actor_user_id, event.site_slug, event.cluster_name) == (
        "gone",
        user_pk,
        "temp-site",
        "temp",
    )
    assert not get_user_model().objects.filter(username="gone").exists()


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("audit", "verify", *args)
    assert caught.value.returncode == 1
    return str(caught.value)


def bypass(sql: str, params: list) -> None:
    """What someone with the table owner's rights could do: switch the triggers off, write, switch on."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE panel_auditevent ENABLE TRIGGER USER")


def test_verify_passes_on_an_intact_log(events):  # type: ignore[no-untyped-def]
    out = verify()
    assert out.startswith("ok: 5 events, chain intact, head ") and events[-1].hash in out


def test_altered_row_is_named(events):  # type: ignore[no-untyped-def]
    victim = events[2]
    bypass("UPDATE panel_auditevent SET actor_username = 'someone-else' WHERE id = %s", [victim.pk])
    message = verify_fails()
    assert f"event #{victim.pk} " in message and "was altered" in message


def test_altered_json_is_named(events):  # type: ignore[no-untyped-def]
    victim = events[1]
    bypass("""UPDATE panel_auditevent SET "after" = '{"n": 99}' WHERE id = %s""", [victim.pk])
    assert f"event #{victim.pk} " in verify_fails()


def test_row_changed_under_replication_role_is_named(events):  # type: ignore[no-untyped-def]
    # The other classic bypass: triggers do not fire for a session in replica mode.
    victim = events[3]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE panel_auditevent SET detail = 'nothing happened' WHERE id = %s", [victim.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert f"event #{victim.pk} " in verify_fails()


def test_removed_row_is_named_by_its_successor(events):  # type: ignore[no-untyped-def]
    bypass("DELETE FROM panel_auditevent WHERE id = %s", [events[2].pk])
    message = verify_fails()
    assert f"event #{events[3].pk} " in message and f"does not follow event #{events[1].pk}" in message


def test_removed_first_rows_are_caught(events):  # type: ignore[no-untyped-def]
    bypass("DELETE FROM panel_auditevent WHERE id <= %s", [events[1].pk])
    assert "does not follow the start of the log" in verify_fails()


def test_removed_tail_is_caught_with_a_kept_head(events):  # type: ignore[no-untyped-def]
    head = events[-1].hash
    assert "chain intact" in verify("--head", head)
    bypass("DELETE FROM panel_auditevent WHERE id = %s", [events[-1].pk])
    assert "chain intact" in verify()  # a shorter chain is still a valid chain...
    assert "no longer in the log" in verify_fails("--head", head)  # ...but the kept head is gone


def test_disabled_triggers_fail_verify(events):  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent DISABLE TRIGGER panel_audit_no_change")
    assert audit_triggers.missing(connection) == ["panel_audit_no_change"]
    assert "triggers are missing or disabled: panel_audit_no_change" in verify_fails()
    audit_triggers.install(connection)  # what post_migrate does
    assert audit_triggers.missing(connection) == []
    assert "chain intact" in verify()


def test_command_line_exit_status(events, capsys):  # type: ignore[no-untyped-def]
    """Through manage.py's own entry point: exit 1 and the row on stderr."""
    bypass("UPDATE panel_auditevent SET detail = 'x' WHERE id = %s", [events[0].pk])
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as exited, redirect_stderr(stderr):
        ManagementUtility(["manage.py", "audit", "verify"]).execute()
    assert exited.value.code == 1
    assert f"event #{events[0].pk} " in stderr.getvalue()
