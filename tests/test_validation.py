"""Every model field that takes user input, with the message the user sees."""

import pytest
from django.core.exceptions import ValidationError

from clusters.models import Cluster, Domain, Site
from tests import factories

pytestmark = pytest.mark.django_db


def errors_of(obj) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        obj.full_clean()
    return info.value.message_dict


def site_with(**kw) -> Site:  # type: ignore[no-untyped-def]
    c = Cluster.objects.first() or factories.cluster()
    defaults = dict(
        cluster=c,
        slug="acme",
        image="registry.example.com/odoo:17.0",
        db_name="acme",
        db_node="manager1",
        filestore_kind="nfs",
        nfs_server="nfs.example.com",
        nfs_export="/srv/fs",
    )
    return Site(**{**defaults, **kw})


def test_valid_site_passes():
    site_with().full_clean()


@pytest.mark.parametrize(
    "slug, message",
    [
        ("Acme", "Use lower-case letters"),
        ("acme_shop", "Use lower-case letters"),
        ("1acme", "starting with a letter"),
        ("acme--shop", "single hyphens"),
        ("acme;rm -rf", "Use lower-case letters"),
        ("a" * 31, "at most 30 characters"),
        ("new", "reserved"),
    ],
)
def test_site_slug(slug, message):
    assert message in " ".join(errors_of(site_with(slug=slug))["slug"])


@pytest.mark.parametrize(
    "image, message",
    [
        ("odoo@sha256:" + "a" * 64, "the panel resolves and pins the digest"),
        ("Odoo:17", "image reference"),
        ("odoo:17 ; ls", "image reference"),
        ("", "cannot be blank"),
    ],
)
def test_site_image(image, message):
    assert message in " ".join(errors_of(site_with(image=image))["image"])


@pytest.mark.parametrize("replicas, message", [(0, "At least 1 replica."), (21, "At most 20 replicas.")])
def test_site_replicas_bounds(replicas, message):
    assert errors_of(site_with(replicas=replicas))["replicas"] == [message]


def test_site_replicas_in_bounds():
    for n in (1, 20):
        site_with(replicas=n).full_clean()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("db_name", "1db", "PostgreSQL database name"),
        ("db_name", "db name", "PostgreSQL database name"),
        ("db_node", "bad host!", "is not a valid host name"),
        ("bind_path", "relative/path", "absolute path"),
        ("nfs_export", "/srv/../etc", "absolute path"),
        ("sticky_cookie", "bad cookie", "letters, digits"),
        ("image_digest", "sha256:xyz", "64 hexadecimal"),
        ("workers", 65, "At most 64"),
    ],
)
def test_site_fields(field, value, message):
    assert message in " ".join(errors_of(site_with(**{field: value}))[field])


def test_nfs_filestore_needs_server_and_export():
    errs = errors_of(site_with(nfs_server="", nfs_export=""))
    assert errs["nfs_server"] == ["An NFS filestore needs the server's host name."]
    assert errs["nfs_export"] == ["An NFS filestore needs the exported path."]


def test_bind_filestore_needs_path():
    assert errors_of(site_with(filestore_kind="bind"))["bind_path"] == [
        "A shared host folder needs its path."
    ]


def test_site_slug_unique():
    site_with().save()
    assert "already exists" in " ".join(errors_of(site_with(db_name="other"))["slug"])


@pytest.mark.parametrize(
    "name, message",
    [
        ("localhost", "not a fully qualified domain name"),
        ("-bad.example.com", "not a valid domain name"),
        ("shop..example.com", "not a valid domain name"),
        ("*.example.com", "Wildcard domains are not supported"),
        ("shop.example.com/admin", "not a valid domain name"),
        ("10.0.0.1", "looks like an IP address"),
        ("a" * 64 + ".example.com", "not a valid domain name"),
        ("", "cannot be blank"),
    ],
)
def test_domain_name(name, message):
    s = site_with()
    s.save()
    assert message in " ".join(errors_of(Domain(site=s, name=name))["name"])


def test_domain_lower_cased_and_unique_across_sites():
    c = factories.cluster()
    a, b = factories.site(c), factories.site(c)
    d = Domain(site=a, name="Shop.Example.COM.")
    d.full_clean()
    d.save()
    assert d.name == "shop.example.com"
    errs = errors_of(Domain(site=b, name="SHOP.example.com"))
    assert errs["name"] == [f"shop.example.com is already a domain of site {a.slug}."]


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ("http://manager:2375", "Use unix:///var/run/docker.sock"),
        ("tcp://manager", "needs a port"),
        ("tcp://:2376", "names no host"),
        ("unix://relative.sock", "absolute socket path"),
        ("tcp://manager:99999", "invalid port"),
    ],
)
def test_cluster_endpoint(endpoint, message):
    assert message in " ".join(errors_of(Cluster(name="prod", endpoint=endpoint))["endpoint"])


def test_tcp_cluster_needs_tls():
    errs = errors_of(Cluster(name="prod", endpoint="tcp://manager:2376"))
    assert "needs TLS client certificates" in errs["endpoint"][0]
    errs = errors_of(Cluster(name="prod", endpoint="tcp://manager:2376", tls_ca="x"))
    assert "give all three" in errs["__all__"][0]


def test_cluster_name_is_a_slug():
    assert (
        "letters, numbers, underscores or hyphens"
        in errors_of(Cluster(name="prod eu", endpoint="unix:///x"))["name"][0]
    )


def test_tls_key_is_encrypted_at_rest():
    from django.db import connection

    c = Cluster.objects.create(
        name="tls", endpoint="tcp://m:2376", tls_ca="CA", tls_cert="CERT", tls_key="PRIVATE KEY"
    )
    with connection.cursor() as cur:
        cur.execute("SELECT tls_key FROM clusters_cluster WHERE id = %s", [c.pk])
        stored = cur.fetchone()[0]
    assert "PRIVATE" not in stored
    fresh = Cluster.objects.get(pk=c.pk)
    assert fresh.tls_key.reveal() == "PRIVATE KEY"
    assert "PRIVATE" not in repr(fresh.tls_key)
