"""Each site's Redis gets a password (issue 17): generated for the sites that exist, stored encrypted."""

import secrets

from django.db import migrations

import panel.crypto


def generate_passwords(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    site_model = apps.get_model("clusters", "Site")
    for site in site_model.objects.filter(redis_password=""):
        site.redis_password = panel.crypto.Secret(secrets.token_urlsafe(24))
        site.save(update_fields=["redis_password"])


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0013_rehearsal_policy"),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="redis_password",
            field=panel.crypto.EncryptedTextField(
                blank=True, db_default="", default="", help_text="Stored encrypted; generated when empty."
            ),
        ),
        migrations.RunPython(generate_passwords, migrations.RunPython.noop),
    ]
