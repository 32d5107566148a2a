"""A site's registry credentials remember the registry they were entered for (Site.registry_host):
clusters/sites/registry_auth.py sends them there and nowhere else.

A site saved before this has no record of it: its current image's registry is taken (what the
credentials were last sent to). Sites without a registry username get none. The reverse drops the
column.
"""

from typing import Any

from django.db import migrations, models

from clusters.stack.rules import image_registry


def fill_registry_host(apps: Any, schema_editor: Any) -> None:
    Site = apps.get_model("clusters", "Site")
    for pk, image in Site.objects.exclude(registry_username="").values_list("pk", "image"):
        Site.objects.filter(pk=pk).update(registry_host=image_registry(image))


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0008_edge"),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="registry_host",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=255),
        ),
        migrations.AlterField(
            model_name="site",
            name="registry_username",
            field=models.CharField(
                blank=True,
                help_text="For a private registry: used to resolve the image's digest. Sent only to the "
                "registry the image was on when the password was entered; moving the image to another "
                "registry asks for the password again (or a blank username: no credentials).",
                max_length=150,
            ),
        ),
        migrations.RunPython(fill_registry_host, migrations.RunPython.noop),
    ]
