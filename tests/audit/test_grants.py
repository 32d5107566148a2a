"""The production grants (issue 17), on PostgreSQL: with the table owned by another role, the panel's
role can record and read events but cannot change, remove, truncate or unprotect them. The test runs
exactly what `manage.py audit grants` prints, inside its own transaction (roles and ownership roll
back with it)."""

import io
import os
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from panel.audit import grants, record
from panel.audit.verify import verify
from panel.models import AuditEvent

pytestmark = pytest.mark.django_db
OWNER = f"audit_owner_t{os.getpid()}"
PANEL = f"panel_app_t{os.getpid()}"


def printed(owner: str, panel: str) -> str:
    out = io.StringIO()
    call_command("audit", "grants", "--owner", owner, "--panel", panel, stdout=out)
    return out.getvalue()


def run(sql: str) -> None:
    with connection.cursor() as cursor:
        for line in sql.splitlines():
            if line.strip() and not line.startswith("--"):
                cursor.execute(line)


@pytest.fixture
def as_panel_role() -> Iterator[None]:
    assert connection.vendor == "postgresql"
    before = record("site.edit", actor="system", detail="before the grants")
    run(f'CREATE ROLE "{OWNER}" NOLOGIN;\nCREATE ROLE "{PANEL}" NOLOGIN;')
    run(printed(OWNER, PANEL))
    run(f'SET ROLE "{PANEL}"')
    try:
        yield
    finally:
        run("RESET ROLE")
    assert AuditEvent.objects.filter(id=before.id).exists()


def denied(sql: str, params: list | None = None) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert getattr(caught.value.__cause__, "sqlstate", None) == "42501", caught.value
    return str(caught.value)


def test_the_printed_statements():  # type: ignore[no-untyped-def]
    text = printed("Audit Owner", "panel")
    assert 'ALTER TABLE panel_auditevent OWNER TO "Audit Owner";' in text
    assert 'ALTER FUNCTION panel_audit_refuse() OWNER TO "Audit Owner";' in text
    assert 'GRANT SELECT, INSERT ON TABLE panel_auditevent TO "panel";' in text
    assert 'GRANT USAGE ON SEQUENCE public.panel_auditevent_id_seq TO "panel";' in text
    assert not any(word in text for word in ("UPDATE,", "DELETE", "TRUNCATE", "ALL PRIVILEGES"))
    assert grants.quoted('we"ird') == '"we""ird"'
    for owner, panel in (("same", "same"), ("a\nDROP TABLE x", "panel")):
        with pytest.raises(CommandError):
            printed(owner, panel)


def test_the_panel_role_records_and_reads_but_cannot_undo(as_panel_role):  # type: ignore[no-untyped-def]
    event = record("site.edit", actor="system", detail="as the panel's role")
    assert AuditEvent.objects.filter(detail="as the panel's role").get().id == event.id
    assert verify().ok
    denied("UPDATE panel_auditevent SET detail = 'x' WHERE id = %s", [event.id])
    denied("DELETE FROM panel_auditevent WHERE id = %s", [event.id])
    assert "permission denied" in denied("TRUNCATE panel_auditevent")
    assert "must be owner" in denied("DROP TRIGGER panel_audit_no_change ON panel_auditevent")
    assert "must be owner" in denied("ALTER TABLE panel_auditevent DISABLE TRIGGER USER")
    assert "must be owner" in denied("ALTER TABLE panel_auditevent ADD COLUMN x int")
    assert "must be owner" in denied("DROP TABLE panel_auditevent")
    denied("CREATE OR REPLACE FUNCTION panel_audit_refuse() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'")
    denied("SET session_replication_role = replica")
    assert AuditEvent.objects.filter(id=event.id, detail="as the panel's role").exists()


def test_even_the_owner_cannot_update_without_dropping_the_triggers(as_panel_role):  # type: ignore[no-untyped-def]
    run(f'RESET ROLE;\nSET ROLE "{OWNER}"')
    assert "append-only" in denied("UPDATE panel_auditevent SET detail = 'x'")
    assert "append-only" in denied("DELETE FROM panel_auditevent")


def test_a_member_of_the_owner_role_can_migrate_the_table(as_panel_role):  # type: ignore[no-untyped-def]
    """What README says the DBA runs a later migration as."""
    member = f"audit_migrator_t{os.getpid()}"
    run(f'RESET ROLE;\nCREATE ROLE "{member}" NOLOGIN IN ROLE "{OWNER}";\nSET ROLE "{member}"')
    run("ALTER TABLE panel_auditevent ADD COLUMN added_later int")
