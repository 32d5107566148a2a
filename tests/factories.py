"""Small builders for the models, valid by default."""

from itertools import count
from typing import Any

from clusters.models import Cluster, Domain, Node, Site
from clusters.stack.spec import NfsFilestore, SiteSpec

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


def user(username: str | None = None, *, role: str = "viewer", password: str | None = None):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    from panel.roles import assign_role, ensure_role_groups

    ensure_role_groups()
    made = get_user_model().objects.create_user(username or f"user{next(_n)}", password=password)
    assign_role(made, role)
    return made


def job(site: Site | None = None, **kw):  # type: ignore[no-untyped-def]
    """A Job row as the engine would write it (queued unless told; an ended one is finished)."""
    from django.utils import timezone

    from jobs.models import ENDED_STATES, Job

    if kw.get("state") in ENDED_STATES:
        kw.setdefault("finished_at", timezone.now())
    defaults = {
        "kind": "deploy",
        "site": site,
        "site_slug": site.slug if site else "",
        "cluster": site.cluster if site else None,
    }
    return Job.objects.create(**{**defaults, **kw})


def site_spec(**kw: Any) -> SiteSpec:
    """A SiteSpec of a production site (NFS filestore) with a pinned digest; `kw` overrides."""
    base: dict[str, Any] = {
        "slug": "acme",
        "image": "registry.example.com/odoo:19.0",
        "image_digest": "sha256:" + "a" * 64,
        "db_name": "acme",
        "db_node": "db1",
        "db_password": "x",
        "redis_password": "r3dis-pass-0123456789",
        "filestore": NfsFilestore(server="nfs1", export="/srv/acme"),
    }
    return SiteSpec(**{**base, **kw})
