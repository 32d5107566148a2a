"""Create, edit and delete from the panel's own pages, with confirmation and clear errors."""

import pytest
from django.urls import reverse

from clusters.models import Cluster, Domain, Site
from tests import factories

pytestmark = pytest.mark.django_db

SITE_FORM = {
    "slug": "acme",
    "name": "Acme",
    "series": "17.0",
    "image": "registry.example.com/odoo:17.0",
    "replicas": 2,
    "workers": 0,
    "db_name": "acme",
    "db_node": "manager1",
    "filestore_kind": "nfs",
    "nfs_server": "nfs.example.com",
    "nfs_export": "/srv/fs",
    "nfs_options": "rw,nfsvers=4",
    "bind_path": "",
    "addons_path": "/mnt/extra-addons",
    "traefik_version": "v3",
    "traefik_entrypoint": "websecure",
    "traefik_certresolver": "le",
    "traefik_network": "traefik-public",
    "sticky_cookie": "odoo_sticky",
    "db_image": "postgres:16",
    "redis_image": "redis:7-alpine",
}


def test_operator_creates_and_edits_a_site(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster()
    client = personas.client("operator")
    response = client.post(reverse("site-create"), {**SITE_FORM, "cluster": c.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    site = Site.objects.get(slug="acme")
    response = client.post(
        reverse("site-edit", args=["acme"]), {**SITE_FORM, "replicas": 4, "slug": "renamed"}
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.replicas == 4 and site.slug == "acme"  # the slug cannot change


def test_bad_input_shows_the_error_and_changes_nothing(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster()
    response = personas.client("operator").post(
        reverse("site-create"), {**SITE_FORM, "cluster": c.pk, "replicas": 50, "slug": "Bad Slug"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "At most 20 replicas." in body and "Use lower-case letters" in body
    assert not Site.objects.exists()


def test_domain_added_through_htmx(personas):  # type: ignore[no-untyped-def]
    s = factories.site(factories.cluster(), slug="acme")
    client = personas.client("operator")
    response = client.post(
        reverse("domain-create", args=["acme"]), {"name": "Shop.Acme.COM"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "shop.acme.com" in response.content.decode()
    response = client.post(
        reverse("domain-create", args=["acme"]), {"name": "bad_name.example.com"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422 and "not a valid domain name" in response.content.decode()
    assert list(s.domains.values_list("name", flat=True)) == ["shop.acme.com"]


def test_delete_asks_first(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster(name="old")
    client = personas.client("admin")
    page = client.get(reverse("cluster-delete", args=[c.pk]))
    assert page.status_code == 200 and "Delete old?" in page.content.decode()
    assert Cluster.objects.filter(pk=c.pk).exists()
    assert client.post(reverse("cluster-delete", args=[c.pk])).status_code == 302
    assert not Cluster.objects.filter(pk=c.pk).exists()


def test_cluster_with_sites_cannot_be_deleted(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster(name="busy")
    factories.site(c, slug="acme")
    client = personas.client("admin")
    response = client.post(reverse("cluster-delete", args=[c.pk]), follow=True)
    assert "busy cannot be deleted while these depend on it: acme." in response.content.decode()
    assert Cluster.objects.filter(pk=c.pk).exists()


def test_cluster_form_keeps_secret_and_never_shows_it(personas):  # type: ignore[no-untyped-def]
    c = Cluster.objects.create(
        name="tls", endpoint="tcp://m:2376", tls_ca="CA", tls_cert="CERT", tls_key="SECRET-KEY"
    )
    client = personas.client("admin")
    page = client.get(reverse("cluster-edit", args=[c.pk])).content.decode()
    assert "SECRET-KEY" not in page
    client.post(
        reverse("cluster-edit", args=[c.pk]),
        {"name": "tls", "endpoint": "tcp://m:2377", "tls_ca": "CA", "tls_cert": "CERT", "tls_key": ""},
    )
    c.refresh_from_db()
    assert c.endpoint == "tcp://m:2377" and c.tls_key.reveal() == "SECRET-KEY"


def test_domain_delete_via_htmx(personas):  # type: ignore[no-untyped-def]
    s = factories.site(factories.cluster(), slug="acme")
    d = factories.domain(s, "x.example.com")
    response = personas.client("operator").post(reverse("domain-delete", args=[d.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == "/sites/acme/"
    assert not Domain.objects.exists()
