"""The approval gate's models now belong to the approvals app: state only (the tables stay), and their
content types follow them so that permissions and generic references keep pointing at the same rows."""

from django.db import migrations


MOVED = ["manifestchange", "changeaddon", "decision", "apitoken"]


def relabel(apps, schema_editor, source="jobs", target="approvals"):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label=source, model__in=MOVED).update(app_label=target)


def relabel_back(apps, schema_editor):
    relabel(apps, schema_editor, source="approvals", target="jobs")


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("jobs", "0003_compensation_claim"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="changeaddon",
                    name="change",
                ),
                migrations.RemoveField(
                    model_name="changeaddon",
                    name="site",
                ),
                migrations.RemoveField(
                    model_name="decision",
                    name="actor",
                ),
                migrations.RemoveField(
                    model_name="decision",
                    name="change",
                ),
                migrations.RemoveField(
                    model_name="manifestchange",
                    name="site",
                ),
                migrations.RemoveField(
                    model_name="manifestchange",
                    name="submitted_by",
                ),
                migrations.DeleteModel(
                    name="ApiToken",
                ),
                migrations.DeleteModel(
                    name="ChangeAddon",
                ),
                migrations.DeleteModel(
                    name="Decision",
                ),
                migrations.DeleteModel(
                    name="ManifestChange",
                ),
            ],
        ),
        migrations.RunPython(relabel, relabel_back),
    ]
