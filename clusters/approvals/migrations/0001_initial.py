"""The approval gate's models, moved here from the jobs app: state only, the tables keep their names."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('jobs', '0003_compensation_claim'),
        ('clusters', '0006_site_session_store_series_19'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ApiToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(help_text="Where it is used, e.g. 'gitlab CI for acme'.", max_length=100)),
                        ('prefix', models.CharField(help_text="The secret's first characters, to recognise it.", max_length=16)),
                        ('digest', models.CharField(max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'jobs_apitoken',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ManifestChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(choices=[('blocked', 'Blocked'), ('pending', 'Pending approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('overridden', 'Approved (overridden)')], max_length=10)),
                        ('title', models.CharField(blank=True, help_text='What it is: a branch, a merge request.', max_length=200)),
                        ('source', models.CharField(choices=[('upload', 'Uploaded archive'), ('folder', "Folder on the panel's host"), ('api', 'HTTP API')], max_length=10)),
                        ('source_name', models.CharField(help_text="The archive's file name or the folder.", max_length=1000)),
                        ('series', models.CharField(max_length=5)),
                        ('passes', models.BooleanField()),
                        ('addons_count', models.PositiveIntegerField(default=0)),
                        ('blocked_count', models.PositiveIntegerField(default=0)),
                        ('verdict', models.JSONField()),
                        ('manifests', models.JSONField(default=dict)),
                        ('modules_read_at', models.DateTimeField(null=True)),
                        ('submitted_by_name', models.CharField(help_text='Kept if the user is deleted.', max_length=150)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='manifest_changes', to='clusters.site')),
                        ('submitted_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'jobs_manifestchange',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='Decision',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('approve', 'Approved'), ('reject', 'Rejected'), ('override', 'Overrode the block')], max_length=10)),
                        ('actor_name', models.CharField(max_length=150)),
                        ('reason', models.TextField(blank=True)),
                        ('state_before', models.CharField(choices=[('blocked', 'Blocked'), ('pending', 'Pending approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('overridden', 'Approved (overridden)')], max_length=10)),
                        ('state_after', models.CharField(choices=[('blocked', 'Blocked'), ('pending', 'Pending approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('overridden', 'Approved (overridden)')], max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('change', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='approvals.manifestchange')),
                    ],
                    options={
                        'db_table': 'jobs_decision',
                        'ordering': ['created_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='ChangeAddon',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=128)),
                        ('blocked', models.BooleanField(default=False)),
                        ('installed', models.BooleanField(default=False)),
                        ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clusters.site')),
                        ('change', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='addons', to='approvals.manifestchange')),
                    ],
                    options={
                        'db_table': 'jobs_changeaddon',
                    },
                ),
                migrations.AddIndex(
                    model_name='manifestchange',
                    index=models.Index(fields=['site', '-created_at'], name='change_site_created'),
                ),
                migrations.AddIndex(
                    model_name='manifestchange',
                    index=models.Index(fields=['state', '-created_at'], name='change_state_created'),
                ),
                migrations.AddIndex(
                    model_name='changeaddon',
                    index=models.Index(fields=['site', 'name', '-change'], name='change_addon_latest'),
                ),
                migrations.AddConstraint(
                    model_name='changeaddon',
                    constraint=models.UniqueConstraint(fields=('change', 'name'), name='change_addon_once'),
                ),
            ],
        ),
    ]
