"""Approvals are bound to the image digest and the manifests they judged (issue 17, "four eyes").

Changes and decisions gain `image_digest` and `manifest_fingerprint`. The safe path for what exists:
decisions taken before this migration keep their state but bind to nothing (empty digest), so they
cover no module update and no deploy: each needs a new decision (submit the change again, or deploy
again, which records the image's change afresh). Image changes get their digest back from their
source name ("image sha256:..."); no fingerprint is made up for manifests that were never hashed.
"""

from django.db import migrations, models

IMAGE_PREFIX = "image "


def digests_of_image_changes(apps, schema_editor):
    ManifestChange = apps.get_model("approvals", "ManifestChange")
    for change in ManifestChange.objects.filter(source="image", source_name__startswith=IMAGE_PREFIX):
        change.image_digest = change.source_name.removeprefix(IMAGE_PREFIX)[:71]
        change.save(update_fields=["image_digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0003_apitoken_scope_site_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="manifestchange",
            name="image_digest",
            field=models.CharField(blank=True, max_length=71),
        ),
        migrations.AddField(
            model_name="manifestchange",
            name="manifest_fingerprint",
            field=models.CharField(blank=True, max_length=71),
        ),
        migrations.AddField(
            model_name="decision",
            name="image_digest",
            field=models.CharField(blank=True, max_length=71),
        ),
        migrations.AddField(
            model_name="decision",
            name="manifest_fingerprint",
            field=models.CharField(blank=True, max_length=71),
        ),
        migrations.RunPython(digests_of_image_changes, migrations.RunPython.noop),
    ]
