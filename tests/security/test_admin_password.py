"""Odoo's admin password of a database the panel initialised: generated per site, stored encrypted,
read only by an admin through `site admin-password`, which leaves an audit row (never the password)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters.models import Site
from panel.crypto import reveal
from panel.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_site_gets_its_own_long_admin_password_stored_encrypted() -> None:
    cluster = factories.cluster()
    a, b = factories.site(cluster), factories.site(cluster)
    assert len(reveal(a.admin_password)) >= 24 and reveal(a.admin_password) != reveal(b.admin_password)
    raw = Site.objects.filter(pk=a.pk).values_list("admin_password", flat=True).get()
    assert reveal(a.admin_password) not in str(raw)


def test_an_admin_reads_it_and_the_audit_names_who_not_what() -> None:
    site = factories.site(factories.cluster())
    admin = factories.user("boss", role="admin")
    with pytest.raises(CommandError, match="did not initialise its database"):
        call_command("site", "--as", admin.username, "admin-password", site.slug)
    Site.objects.filter(pk=site.pk).update(database_origin=Site.DatabaseOrigin.PANEL)
    out = io.StringIO()
    call_command("site", "--as", admin.username, "admin-password", site.slug, stdout=out)
    assert out.getvalue().strip() == reveal(site.admin_password)
    event = AuditEvent.objects.get(action="site.admin_password.read")
    assert event.actor_username == "boss" and reveal(site.admin_password) not in str(event.__dict__)
    for role in ("viewer", "operator", "approver"):
        with pytest.raises(CommandError):
            call_command("site", "--as", factories.user(role=role).username, "admin-password", site.slug)


def test_new_rows_hold_plain_defaults_not_database_expressions() -> None:
    """Fields with a database default (for rows written by older code) still give a new object its
    Python default: the page's new-site form renders them as values."""
    from clusters.models import Cluster

    site, cluster = Site(), Cluster()
    assert (site.country, site.language, site.with_demo, site.database_origin, site.image_facts) == (
        "",
        "en_US",
        False,
        "",
        {},
    )
    assert (cluster.default_db_image, cluster.default_redis_image) == ("", "")
