"""The dashboard and list pages: content, htmx partials, and a query count that does not grow."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def seed(n_sites: int) -> None:
    clusters = [factories.cluster() for _ in range(3)]
    for c in clusters:
        for _ in range(3):
            factories.node(c)
    for i in range(n_sites):
        s = factories.site(clusters[i % 3])
        factories.domain(s)
        factories.domain(s)


def queries_for(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["dashboard", "site-list", "cluster-list", "domain-list"])
def test_query_count_does_not_grow(personas, url_name):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    seed(10)
    small = queries_for(client, reverse(url_name))
    seed(190)
    large = queries_for(client, reverse(url_name))
    assert small == large, f"{url_name}: {small} queries with 10 sites, {large} with 200"
    assert large <= 15


def test_dashboard_shows_sites_clusters_and_domains(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster(name="prod-eu")
    factories.node(c, hostname="mgr1", role="manager")
    s = factories.site(c, slug="acme", replicas=3, status="healthy", running_replicas=3)
    factories.domain(s, "shop.acme.com")
    page = personas.client("viewer").get(reverse("dashboard")).content.decode()
    for text in ("prod-eu", "acme", "shop.acme.com", "3 / 3", "Healthy", "1 / 1"):
        assert text in page


def test_search_and_htmx_partial(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster()
    factories.domain(factories.site(c, slug="alpha"), "alpha.example.com")
    factories.domain(factories.site(c, slug="beta"), "beta.example.com")
    client = personas.client("viewer")
    full = client.get(reverse("site-list"), {"q": "beta"})
    assert "<html" in full.content.decode() and "alpha.example.com" not in full.content.decode()
    partial = client.get(reverse("site-list"), {"q": "alpha"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and "alpha.example.com" in body and "beta" not in body
    assert "HX-Request" in partial["Vary"]


def test_pagination(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster()
    for _ in range(30):
        factories.site(c)
    page2 = personas.client("viewer").get(reverse("site-list"), {"page": 2}).content.decode()
    assert "Page 2 of 2" in page2


def test_empty_states_say_what_to_do(personas):  # type: ignore[no-untyped-def]
    operator_page = personas.client("operator").get(reverse("dashboard")).content.decode()
    assert "Create the first site" in operator_page
    viewer_page = personas.client("viewer").get(reverse("dashboard")).content.decode()
    assert "An operator can create one" in viewer_page


def test_the_top_half_refreshes_on_its_own_with_every_count(personas):  # type: ignore[no-untyped-def]
    """The timed refresh of cards and clusters: a node that goes down shows without a reload, and
    the cluster count is the real one even past the clusters the dashboard lists."""
    from clusters.dashboard import CLUSTERS_SHOWN

    for _ in range(CLUSTERS_SHOWN + 2):
        factories.cluster()
    node = factories.node(factories.cluster(name="edge"))
    client = personas.client("viewer")
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "dashboard-live"}
    html = client.get(reverse("dashboard"), **headers).content.decode()
    assert "<h1>" not in html and "<table" in html and f"{CLUSTERS_SHOWN + 3}</div>" in html
    assert f"The {CLUSTERS_SHOWN} first of {CLUSTERS_SHOWN + 3}" in html
    ready = html.count("1 / 1")
    node.state = "down"
    node.save()
    assert client.get(reverse("dashboard"), **headers).content.decode().count("1 / 1") < ready


def test_a_drifted_site_has_a_reconcile_button_for_operators_only(personas):  # type: ignore[no-untyped-def]
    drift = [{"kind": "replicas", "message": "replicas 1, should be 2"}]
    site = factories.site(factories.cluster(), drift=drift)
    action = reverse("site-reconcile", args=[site.slug])
    assert action in personas.client("operator").get(reverse("dashboard")).content.decode()
    assert action not in personas.client("viewer").get(reverse("dashboard")).content.decode()
