"""Backup roots (issue 18): where a cluster keeps its sites' backups, and where each backup is. Blank:
the node-local volume, where every backup taken before this migration stays and is read from
(clusters/stack/backup_store.py)."""

from django.db import migrations, models

import clusters.validators


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0014_site_secrets"),
    ]

    operations = [
        migrations.AddField(
            model_name="backup",
            name="backup_root",
            field=models.CharField(blank=True, db_default="", default="", max_length=255),
        ),
        migrations.AddField(
            model_name="cluster",
            name="backup_root",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text=(
                    "NFS export server:/path for backups, each site in <path>/<slug>; blank: a node volume."
                ),
                max_length=255,
                validators=[clusters.validators.validate_backup_root],
            ),
        ),
    ]
