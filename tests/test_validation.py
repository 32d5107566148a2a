"""Every model field that takes user input, with the message the user sees."""

import pytest
from django.core.exceptions import ValidationError

from clusters.forms import SiteForm
from clusters.models import Cluster, Domain, Site
from clusters.sites.site_spec import spec_for
from clusters.stack import SpecError
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


# Fields the stack renderer checks too (clusters/stack/rules.py, applied by SiteSpec): the model refuses
# them on save with the renderer's own message, instead of the deploy refusing them later.
RENDERER_RULES = [
    ("traefik_entrypoint", "web secure", "Traefik entrypoint 'web secure': use only letters, digits, _ or -"),
    ("traefik_entrypoint", "websecure`)", "Traefik entrypoint 'websecure`)': use only letters"),
    ("traefik_certresolver", "le.prod", "Traefik cert resolver 'le.prod': use only letters, digits"),
    ("traefik_network", "traefik public", "Traefik network 'traefik public': use only letters, digits"),
    ("traefik_network", "net/evil", "Traefik network 'net/evil': use only letters"),
    ("nfs_options", "rw, hard", "NFS options are comma-separated mount options such as rw,nfsvers=4,hard"),
    ("nfs_options", "addr=10.0.0.9,rw", "no addr= (the panel adds the server's address)"),
    ("nfs_options", "rw,'hard'", "with no spaces or quotes"),
    ("addons_path", "mnt/extra-addons", "Addons path entry 'mnt/extra-addons': use absolute paths"),
    ("addons_path", "/mnt/a,/mnt/../etc", "Addons path entry '/mnt/../etc': use absolute paths without '..'"),
    ("addons_path", "/mnt/a:/mnt/b", "separated by commas (e.g. /mnt/extra-addons,/mnt/oca)"),
]


def site_form_data(cluster: Cluster, **kw) -> dict:  # type: ignore[no-untyped-def]
    data = {
        "cluster": cluster.pk,
        "slug": "acme",
        "series": "17.0",
        "image": "registry.example.com/odoo:17.0",
        "replicas": 2,
        "workers": 0,
        "db_name": "acme",
        "db_node": "manager1",
        "filestore_kind": "nfs",
        "nfs_server": "nfs.example.com",
        "nfs_export": "/srv/fs",
        "nfs_options": "rw,nfsvers=4,hard",
        "addons_path": "/mnt/extra-addons",
        "traefik_version": "v3",
        "traefik_entrypoint": "websecure",
        "traefik_certresolver": "le",
        "traefik_network": "traefik-public",
        "sticky_cookie": "odoo_sticky",
        "db_image": "postgres:16",
        "redis_image": "redis:7-alpine",
    }
    return {**data, **kw}


@pytest.mark.parametrize("field, value, message", RENDERER_RULES)
def test_renderer_rules_refused_on_save(field, value, message):
    form = SiteForm(data=site_form_data(factories.cluster(), **{field: value}))
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])
    assert message in " ".join(errors_of(site_with(**{field: value}))[field])
    assert not Site.objects.exists()


@pytest.mark.parametrize("field, value, message", RENDERER_RULES)
def test_renderer_gives_the_same_message(field, value, message):
    """One rule serves both: a row that skipped validation is refused by the renderer, same words."""
    site = site_with(**{field: value})
    site.save()  # save() does not validate, as for rows written before the validators existed
    with pytest.raises(SpecError) as info:
        spec_for(site)
    assert message.lower() in str(info.value).lower()


@pytest.mark.parametrize(
    "field, value",
    [
        ("traefik_entrypoint", "web"),
        ("traefik_entrypoint", "web_secure-2"),
        ("traefik_certresolver", ""),
        ("traefik_certresolver", "letsencrypt"),
        ("traefik_network", ""),
        ("traefik_network", "traefik_public"),
        ("nfs_options", ""),
        ("nfs_options", "rw,nfsvers=4.1,hard,timeo=600"),
        ("addons_path", ""),
        ("addons_path", "/mnt/extra-addons, /mnt/oca,"),
    ],
)
def test_renderer_rules_accept_good_values(field, value):
    form = SiteForm(data=site_form_data(factories.cluster(), **{field: value}))
    assert form.is_valid(), form.errors
    site = form.save()
    assert getattr(site, field) == value
    spec_for(site)  # and the renderer takes it


@pytest.mark.parametrize(
    "synced, db_node, message",
    [
        (["manager1", "worker1"], "worker1", None),
        (["manager1", "worker1"], "manager1", None),
        (
            ["worker1", "manager1"],
            "wroker1",
            "'wroker1' is not a node of this cluster; its nodes (at the last sync) are: manager1, worker1.",
        ),
        (
            ["manager1"],
            "Manager1",
            "'Manager1' is not a node of this cluster; its nodes (at the last sync) are: manager1.",
        ),
        ([], "anything-goes", None),  # nothing synced yet: nothing to check against
    ],
)
def test_db_node_against_synced_nodes(synced, db_node, message):
    c = factories.cluster()
    for hostname in synced:
        factories.node(c, hostname=hostname)
    factories.node(factories.cluster(), hostname=db_node)  # another cluster's node does not count
    form = SiteForm(data=site_form_data(c, db_node=db_node))
    if message is None:
        assert form.is_valid(), form.errors
        assert form.save().db_node == db_node
    else:
        assert not form.is_valid()
        assert form.errors["db_node"] == [message]
        assert errors_of(site_with(cluster=c, db_node=db_node))["db_node"] == [message]
        assert not Site.objects.exists()


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
