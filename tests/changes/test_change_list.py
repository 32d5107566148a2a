"""The changes list: filters by site and state, pages, and a constant number of queries however many."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.approvals.models import ChangeSource, ManifestChange
from tests import factories

pytestmark = pytest.mark.django_db
BIG_VERDICT = {"addons": {f"a{i}": {"closure": ["x" * 50] * 5} for i in range(20)}, "blocked": []}


def bulk(site, n: int, state: str):  # type: ignore[no-untyped-def]
    ManifestChange.objects.bulk_create(
        ManifestChange(
            site=site,
            state=state,
            source=ChangeSource.API,
            source_name="addons.zip",
            series="17.0",
            passes=state != "blocked",
            verdict=BIG_VERDICT,
            submitted_by_name="bob",
        )
        for _ in range(n)
    )


def test_filters_and_pages(personas, site):
    other = factories.site(site.cluster, slug="other")
    bulk(site, 30, "pending")
    bulk(site, 3, "blocked")
    bulk(other, 4, "approved")
    client = personas.client("viewer")
    page = client.get(reverse("change-list")).context["page"]
    assert page.paginator.count == 37 and len(page.object_list) == 25
    assert client.get(reverse("change-list") + "?site=other").context["page"].paginator.count == 4
    assert client.get(reverse("change-list") + "?state=blocked").context["page"].paginator.count == 3
    assert (
        client.get(reverse("change-list") + "?site=acme&state=approved").context["page"].paginator.count == 0
    )
    assert client.get(reverse("change-list") + "?state=bogus").context["page"].paginator.count == 37
    response = client.get(reverse("change-list") + "?site=acme&page=2", headers={"HX-Request": "true"})
    assert response.status_code == 200 and b"<html" not in response.content  # the partial only
    assert (
        "Submit a manifest change"
        in personas.client("operator").get(reverse("change-list") + "?site=acme").content.decode()
    )


def test_query_count_does_not_grow_and_verdicts_are_not_loaded(personas, site):
    client = personas.client("viewer")
    bulk(site, 5, "pending")
    client.get(reverse("change-list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("change-list"))
    bulk(site, 300, "pending")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("change-list"))
    assert len(many) == len(few)
    listing = [
        q["sql"] for q in many.captured_queries if "jobs_manifestchange" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert listing and all('"verdict"' not in sql and '"manifests"' not in sql for sql in listing)
