"""The preflight page on the lab (issue 5): what only the cluster can tell is checked before any
deploy: the image tag resolves at its registry, and the database node exists."""

import pytest
from django.test import Client
from django.urls import reverse

from clusters.models import Site
from clusters.sites import inspection
from clusters.stack.preflight import blocking
from tests import factories

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def failed(results) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.key: r.reason for r in blocking(results)}


def test_a_site_ready_for_its_first_deploy_passes(make_site):  # type: ignore[no-untyped-def]
    site = make_site()
    results, note = inspection.preflight_for(site)
    assert failed(results) == {} and "not deployed yet" in note
    image = next(r for r in results if r.key == "image_digest")
    assert image.ok and "@sha256:" in image.reason  # the digest the deploy will pin
    assert next(r for r in results if r.key == "db_node_exists").ok


def test_an_unresolvable_image_and_an_unknown_node_block_with_the_fix(make_site):  # type: ignore[no-untyped-def]
    site = make_site()
    # As a row saved before the node existed check, or a tag deleted from the registry since.
    Site.objects.filter(pk=site.pk).update(db_node="lab-gone", image=site.image.replace(":17.0", ":nope"))
    site.refresh_from_db()
    problems = failed(inspection.preflight_for(site)[0])
    assert "could not be resolved" in problems["image_digest"]
    assert "lab-gone" in problems["db_node_exists"]
    operator = factories.user("pf-operator", role="operator")
    client = Client()
    client.force_login(operator)
    html = client.get(reverse("site-preflight", args=[site.slug])).content.decode()
    assert "could not be resolved" in html and "lab-w1" in html  # the fix names the real nodes
