# Reserved for scheduled backups, retention and drills (issue 18). Every backup taken before this
# migration was taken by a module update: those rows become kind pre-update.

from django.db import migrations, models


def mark_existing_pre_update(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("clusters", "Backup").objects.update(kind="pre-update")


class Migration(migrations.Migration):

    dependencies = [
        ('clusters', '0011_rehearsal'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='backup',
            options={'ordering': ['-created_at', '-id']},
        ),
        migrations.AddField(
            model_name='backup',
            name='digest',
            field=models.CharField(blank=True, db_default='', default='', max_length=80),
        ),
        migrations.AddField(
            model_name='backup',
            name='drill_ok',
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='backup',
            name='drill_result',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.AddField(
            model_name='backup',
            name='drilled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='backup',
            name='duration_s',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='backup',
            name='error',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.AddField(
            model_name='backup',
            name='filestore_filename',
            field=models.CharField(blank=True, db_default='', default='', max_length=200),
        ),
        migrations.AddField(
            model_name='backup',
            name='filestore_sha256',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
        migrations.AddField(
            model_name='backup',
            name='filestore_size_bytes',
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='backup',
            name='kind',
            field=models.CharField(choices=[('scheduled', 'Scheduled'), ('manual', 'Manual'), ('pre-update', 'Before a module update')], db_default='manual', default='manual', max_length=12),
        ),
        migrations.AddField(
            model_name='backup',
            name='modules',
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
        migrations.AddField(
            model_name='backup',
            name='row_counts',
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
        migrations.AddField(
            model_name='backup',
            name='sha256',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
        migrations.AddField(
            model_name='backup',
            name='status',
            field=models.CharField(choices=[('ok', 'OK'), ('failed', 'Failed')], db_default='ok', default='ok', max_length=8),
        ),
        migrations.AddField(
            model_name='site',
            name='backup_interval_hours',
            field=models.PositiveSmallIntegerField(blank=True, db_default=24, default=24, help_text='Hours between scheduled backups; 0 turns them off.'),
        ),
        migrations.AddField(
            model_name='site',
            name='backup_keep_daily',
            field=models.PositiveSmallIntegerField(blank=True, db_default=7, default=7),
        ),
        migrations.AddField(
            model_name='site',
            name='backup_keep_monthly',
            field=models.PositiveSmallIntegerField(blank=True, db_default=3, default=3),
        ),
        migrations.AddField(
            model_name='site',
            name='backup_keep_weekly',
            field=models.PositiveSmallIntegerField(blank=True, db_default=4, default=4),
        ),
        migrations.AddIndex(
            model_name='backup',
            index=models.Index(fields=['site', '-created_at'], name='backup_site_recent'),
        ),
        migrations.RunPython(mark_existing_pre_update, migrations.RunPython.noop),
    ]
