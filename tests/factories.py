"""Small builders for the models, valid by default."""

from itertools import count

from clusters.models import Cluster, Domain, Node, Site

_n = count(1)


def cluster(**kw) -> Cluster:  # type: ignore[no-untyped-def]
    n = next(_n)
    defaults = {"name": f"c{n}", "endpoint": "unix:///var/run/docker.sock"}
    return Cluster.objects.create(**{**defaults, **kw})


def node(cluster: Cluster, **kw) -> Node:  # type: ignore[no-untyped-def]
    n = next(_n)
    defaults = {
        "node_id": f"n{n}",
        "hostname": f"node{n}",
        "role": "worker",
        "availability": "active",
        "state": "ready",
    }
    return Node.objects.create(cluster=cluster, **{**defaults, **kw})


def site(cluster: Cluster, **kw) -> Site:  # type: ignore[no-untyped-def]
    n = next(_n)
    defaults = {
        "slug": f"site{n}",
        "image": "registry.example.com/odoo:17.0",
        "db_name": f"db{n}",
        "db_node": "manager1",
        "filestore_kind": "nfs",
        "nfs_server": "nfs.example.com",
        "nfs_export": "/srv/filestore",
    }
    return Site.objects.create(cluster=cluster, **{**defaults, **kw})


def domain(site: Site, name: str | None = None) -> Domain:
    return Domain.objects.create(site=site, name=name or f"d{next(_n)}.example.com")
