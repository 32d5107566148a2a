"""Make panel_auditevent append-only at the database: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL). The SQL lives in panel/audit/triggers.py, shared with the post_migrate
check that puts the triggers back if a later table rebuild (SQLite) dropped them."""

from django.db import migrations


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    from panel.audit import triggers

    triggers.install(schema_editor.connection)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    from panel.audit import triggers

    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("panel", "0002_auditevent"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
