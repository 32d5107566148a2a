# Reserved for the drill job kind (issue 18): a restore drill of a site's backup.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0008_rehearsal_kind'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='kind',
            field=models.CharField(choices=[('deploy', 'Deploy'), ('reconcile', 'Reconcile'), ('domain', 'Domain change'), ('scale', 'Scale'), ('read_modules', 'Read modules'), ('module_update', 'Module update'), ('module_install', 'Module install'), ('backup', 'Backup'), ('restore', 'Restore'), ('edge_deploy', 'Edge deploy'), ('rehearsal', 'Rehearsal'), ('drill', 'Restore drill')], db_index=True, max_length=40),
        ),
    ]
