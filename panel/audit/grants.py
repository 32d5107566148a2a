"""The PostgreSQL grants that keep the panel's own role from undoing the append-only triggers.

Whoever owns panel_auditevent can drop or disable its triggers, replace the function they call, or
truncate it. In production a separate owner role holds the table, its identity sequence and the
trigger function; the panel's role keeps SELECT and INSERT (and USAGE on the sequence), enough for
record() and the review page, and gets "permission denied" (or "must be owner") for the rest.
`manage.py audit grants` prints these statements for the DBA; the test suite runs what it prints.
"""

from typing import Any

from panel.audit.triggers import TABLE

FUNCTION = "panel_audit_refuse()"
DEFAULT_SEQUENCE = f"{TABLE}_id_seq"


def quoted(role: str) -> str:
    """A role name as an SQL identifier, exactly as given (quoted: case and any character kept)."""
    if not role or any(ord(c) < 32 for c in role):
        raise ValueError(f"{role!r} is not a role name")
    return '"' + role.replace('"', '""') + '"'


def sequence(connection: Any) -> str:
    """The id column's sequence as PostgreSQL names it (Django's identity column: TABLE_id_seq)."""
    if connection.vendor != "postgresql":
        return DEFAULT_SEQUENCE
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        found = cursor.fetchone()
    return found[0] if found and found[0] else DEFAULT_SEQUENCE


def statements(owner: str, panel: str, id_sequence: str = DEFAULT_SEQUENCE) -> list[str]:
    """ALTER TABLE ... OWNER moves the identity sequence with the table; the function goes apart."""
    owner_role, panel_role = quoted(owner), quoted(panel)
    return [
        f"ALTER TABLE {TABLE} OWNER TO {owner_role};",
        f"ALTER FUNCTION {FUNCTION} OWNER TO {owner_role};",
        f"REVOKE ALL ON TABLE {TABLE} FROM PUBLIC;",
        f"REVOKE ALL ON TABLE {TABLE} FROM {panel_role};",
        f"GRANT SELECT, INSERT ON TABLE {TABLE} TO {panel_role};",
        f"REVOKE ALL ON SEQUENCE {id_sequence} FROM {panel_role};",
        f"GRANT USAGE ON SEQUENCE {id_sequence} TO {panel_role};",
    ]


def script(owner: str, panel: str, id_sequence: str = DEFAULT_SEQUENCE) -> str:
    head = [
        f"-- Run once as a superuser (or the table's current owner); {owner} must exist and need not log in.",
        f"-- {panel} must not be a superuser nor a member of {owner}. A later migration that changes",
        f"-- {TABLE} runs as {owner} (see README, Audit log).",
    ]
    return "\n".join([*head, *statements(owner, panel, id_sequence)]) + "\n"
