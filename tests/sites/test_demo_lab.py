"""What `make run` promises a new user (issue 5, Done when): the demo site deployed by a worker,
healthy, its demo modules installed, and its preflight all green (the rendered stack, the live
services and what only the cluster can tell)."""

import uuid

import pytest
from django.core.management import call_command

from clusters.models import Cluster, Site
from clusters.sites import inspection
from tests.jobs.conftest import _stream_settings, worker  # noqa: F401
from tests.sites.conftest import remove_site_objects

pytestmark = [pytest.mark.integration, pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_the_demo_site_is_deployed_healthy_and_all_green(lab, worker, docker_client):  # type: ignore[no-untyped-def]  # noqa: F811
    Cluster.objects.get_or_create(name="lab", defaults={"endpoint": lab.manager_socket, "is_lab": True})
    slug = f"demo{uuid.uuid4().hex[:6]}"  # never the `make run` demo of this machine
    try:
        call_command("demo", "--slug", slug)
        site = Site.objects.get(slug=slug)
        assert site.status == Site.Status.HEALTHY and site.running_replicas == 2
        assert {m for m, (state, _) in site.installed_modules.items() if state == "installed"} >= {
            "shop_sale",
            "shop_stock",
        }
        results, note = inspection.preflight_for(site)
        assert [(r.key, r.source, r.reason) for r in results if not r.ok] == [] and note == ""
        assert {r.source for r in results} == {"rendered", "live"}
        call_command("demo", "--slug", slug)  # a second start leaves a healthy demo alone
        assert Site.objects.get(slug=slug).status == Site.Status.HEALTHY
    finally:
        remove_site_objects(docker_client, slug, lab)
