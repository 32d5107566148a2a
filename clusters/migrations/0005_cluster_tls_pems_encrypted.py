"""The cluster's TLS CA and client certificate are stored encrypted, like its key.

AlterField changes no column (both are text); the data step rewrites the raw column values with a
cursor, so it never goes through the model field (which would decrypt on read). It is idempotent:
a value that already decrypts with PANEL_ENCRYPTION_KEY is left alone. A value that looks like a
Fernet token but does not decrypt was written with another key: the migration stops rather than
encrypt it twice. The reverse decrypts back to plain text.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import migrations

import panel.crypto

COLUMNS = ("tls_ca", "tls_cert")
# Every Fernet token starts with the version byte 0x80 and a 64-bit timestamp: "gAAAAA" in base64.
TOKEN_PREFIX = "gAAAAA"


def _plain(value: str) -> str | None:
    """The plain text of a stored Fernet token, or None when `value` is not one."""
    try:
        return panel.crypto.decrypt(value)
    except ImproperlyConfigured:
        if value.startswith(TOKEN_PREFIX):
            raise ImproperlyConfigured(
                "a cluster's TLS value was encrypted with another PANEL_ENCRYPTION_KEY; "
                "set the key it was saved with and migrate again"
            ) from None
        return None
    except ValueError:
        return None


def _rewrite(apps: Any, schema_editor: Any, convert: Any) -> None:
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    table = quote(apps.get_model("clusters", "Cluster")._meta.db_table)
    with connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(
                f"SELECT id, {quote(column)} FROM {table} "
                f"WHERE {quote(column)} IS NOT NULL AND {quote(column)} <> ''"
            )
            for pk, value in cursor.fetchall():
                new = convert(value)
                if new is not None and new != value:
                    cursor.execute(
                        f"UPDATE {table} SET {quote(column)} = %s WHERE id = %s",
                        [new, pk],
                    )


def encrypt_tls_pems(apps: Any, schema_editor: Any) -> None:
    """Encrypt every plaintext tls_ca / tls_cert; values already encrypted are skipped."""

    def encrypted(value: str) -> str | None:
        return None if _plain(value) is not None else panel.crypto.encrypt(value)

    _rewrite(apps, schema_editor, encrypted)


def decrypt_tls_pems(apps: Any, schema_editor: Any) -> None:
    """Back to plain text; values that are not tokens (already plain) are skipped."""
    _rewrite(apps, schema_editor, _plain)


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0004_site_field_validators"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cluster",
            name="tls_ca",
            field=panel.crypto.EncryptedTextField(
                blank=True, help_text="PEM of the CA that signed the engine's certificate; stored encrypted."
            ),
        ),
        migrations.AlterField(
            model_name="cluster",
            name="tls_cert",
            field=panel.crypto.EncryptedTextField(
                blank=True, help_text="PEM of the client certificate; stored encrypted."
            ),
        ),
        migrations.RunPython(encrypt_tls_pems, decrypt_tls_pems, elidable=False),
    ]
