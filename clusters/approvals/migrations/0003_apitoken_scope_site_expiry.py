"""API tokens gain an expiry, a scope and an optional site (issue 17).

Existing tokens keep what they could do until now: scope "submit", any site (site null). They get
expires_at = the time this migration runs + 90 days (the callable default below is evaluated once, when
the column is added, then dropped), so no CI pipeline breaks at once and every old token still ends;
make new ones on the tokens page or with `manage.py token create` before then.
"""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def in_90_days():
    return timezone.now() + timedelta(days=90)


class Migration(migrations.Migration):

    dependencies = [
        ("approvals", "0002_image_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("check", "Check only (dry runs and reads)"), ("submit", "Submit changes and check")],
                default="submit",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apitoken",
            name="site",
            field=models.ForeignKey(
                blank=True,
                help_text="The one site it may act on; empty: any site.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="clusters.site",
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(default=in_90_days),
            preserve_default=False,
        ),
    ]
