# Reserved for the green-rehearsal policy (issue 18); operations filled in by hand (makemigrations would add a new file: move its
# operations here instead).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clusters', '0012_backup_schedule_and_drills'),
    ]

    operations: list = [
        migrations.AddField(
            model_name='site',
            name='rehearsal_required',
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text='A module update is refused unless the newest rehearsal of its digest and modules passed (an admin may override, in writing). Operators may turn it on; only an admin turns it off.',
                verbose_name='Updates need a green rehearsal of the same digest and modules',
            ),
        ),
    ]
