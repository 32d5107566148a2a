"""The database refuses to change or remove audit rows: triggers, per vendor.

Installed by migration 0003 and re-checked after every migrate (post_migrate): on SQLite, Django
alters a table by rebuilding it, which silently drops its triggers. `audit verify` fails when they
are missing.

PostgreSQL, one exception on purpose: TRUNCATE is allowed in Django's own test databases
(named test_*), because the test runner empties every table with one TRUNCATE between
transactional tests. A session can still ask for the strict behaviour there
(`SET panel.audit_strict = 'on'`), which is how the suite proves that TRUNCATE is refused.
UPDATE and DELETE are refused everywhere. Whoever owns the table can drop the triggers: in
production another role owns it (panel/audit/grants.py), and the keyed chain and its anchors catch
what is rewritten anyway.
"""

from typing import Any

TABLE = "panel_auditevent"
MESSAGE = "audit events are append-only"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION panel_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_database() LIKE 'test\\_%'
       AND coalesce(current_setting('panel.audit_strict', true), '') <> 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
"""
PG_TRIGGERS = {
    "panel_audit_no_change": f"BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH ROW",
    "panel_audit_no_truncate": f"BEFORE TRUNCATE ON {TABLE} FOR EACH STATEMENT",
}
SQLITE_TRIGGERS = {
    "panel_audit_no_update": "BEFORE UPDATE",
    "panel_audit_no_delete": "BEFORE DELETE",
}


def names(vendor: str) -> list[str]:
    return list(PG_TRIGGERS if vendor == "postgresql" else SQLITE_TRIGGERS if vendor == "sqlite" else {})


def installed(connection: Any) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
                "AND tgenabled <> 'D'",
                [TABLE],
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        else:
            return set()
        return {row[0] for row in cursor.fetchall()}


def missing(connection: Any) -> list[str]:
    return sorted(set(names(connection.vendor)) - installed(connection))


def install(connection: Any) -> None:
    """Create the triggers that are missing (idempotent)."""
    absent = missing(connection)
    if not absent:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for name in absent:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")  # present but disabled
                cursor.execute(
                    f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} EXECUTE FUNCTION panel_audit_refuse()"
                )
        elif connection.vendor == "sqlite":
            for name in absent:
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name} {SQLITE_TRIGGERS[name]} ON {TABLE} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in PG_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
            cursor.execute("DROP FUNCTION IF EXISTS panel_audit_refuse()")
        elif connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
