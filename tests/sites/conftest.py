"""Sites on the real lab: a lab cluster row, a site builder, and jobs run the way a worker runs them."""

import contextlib
import shutil
import subprocess
import time
import uuid

import docker
import pytest

from clusters.models import Cluster, Domain, Site
from lab.site_images import build_from
from lab.sites import lab_site_fields


@pytest.fixture
def lab_cluster(lab, transactional_db) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster.objects.create(name="lab-sites", endpoint=lab.manager_socket, is_lab=True)


@pytest.fixture
def docker_client(lab):  # type: ignore[no-untyped-def]
    client = docker.DockerClient(base_url=lab.manager_socket)
    yield client
    client.close()


@pytest.fixture
def make_site(lab, lab_cluster, docker_client):  # type: ignore[no-untyped-def]
    """A site on the lab with its own image tag (so a test can push a new image under it);
    its services, network and volumes are removed after the test."""
    made: list[Site] = []

    def make(domains=("a.lab.test", "b.lab.test"), replicas=2, **kw) -> Site:  # type: ignore[no-untyped-def]
        site = new_lab_site(lab, docker_client, lab_cluster, domains=domains, replicas=replicas, **kw)
        made.append(site)
        return site

    yield make
    for site in made:
        remove_site_objects(docker_client, site.slug, lab)


def new_lab_site(  # type: ignore[no-untyped-def]
    lab, client: docker.DockerClient, cluster: Cluster, domains=("a.lab.test", "b.lab.test"), replicas=2, **kw
) -> Site:
    """A site on the lab with its own image tag, so a test can push a new image under it. On the
    lab's 17.0 stand-in unless `image` names another of the lab's Odoo images (e.g. "odoo19")."""
    slug = f"t{uuid.uuid4().hex[:8]}"
    odoo_name = kw.pop("image", "odoo")
    odoo = lab.image(odoo_name)
    tag = f"{lab.registry}/oplab/site-{slug}:{odoo.series}"
    retag(client, odoo.ref, tag)
    fields = lab_site_fields(lab, slug, odoo=odoo_name, image=tag)
    site = Site.objects.create(cluster=cluster, **{**fields, "replicas": replicas, **kw})
    for name in domains:
        Domain.objects.create(site=site, name=f"{slug}-{name}")
    return site


def retag(client: docker.DockerClient, source: str, tag: str) -> str:
    """Push `source` under `tag` at the lab registry; returns the pushed digest."""
    image = client.images.get(source) if _has(client, source) else client.images.pull(source)
    repo, _, name = tag.rpartition(":")
    image.tag(repo, name)
    for _ in client.images.push(repo, tag=name, stream=True, decode=True):
        pass
    return str(client.images.get_registry_data(tag).id)


def build_variant(
    client: docker.DockerClient,
    base: str,
    tag: str,
    dockerfile_lines: list[str],
    files: dict[str, bytes] | None = None,
) -> str:
    """A new image FROM `base` (already local), pushed under `tag`; returns its digest."""
    return build_from(client, base, tag, dockerfile_lines, files)


def _has(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def remove_site_objects(client: docker.DockerClient, slug: str, lab=None) -> None:  # type: ignore[no-untyped-def]
    """The site's services, network and secrets; with `lab`, also on every node its containers (one-off
    tasks stay behind as exited containers when their service is removed) and its volumes (the
    database's data stays on its node otherwise, ~40 MB a test), and its filestore folder."""
    assert slug, "no slug: every service and the whole filestore would match"
    for service in client.services.list(filters={"label": f"panel.site={slug}"}):
        service.remove()
    for service in client.services.list(filters={"name": f"{slug}_"}):
        service.remove()
    subprocess.run(["sleep", "2"], check=False)
    label = {"label": f"panel.site={slug}"}
    if lab is not None:
        for node in lab.nodes:
            _remove_node_leftovers(lab.client(node.socket), label)
        shutil.rmtree(f"{lab.filestore_root}/{slug}", ignore_errors=True)  # new_lab_site's bind_path
    for network in client.networks.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()
    for secret in client.secrets.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            secret.remove()


def _remove_node_leftovers(node_client: docker.DockerClient, label: dict[str, str]) -> None:
    try:
        deadline = time.monotonic() + 20
        while True:  # a container of a service just removed may still be stopping, or just gone
            # sparse: no inspect per container, which fails for one Swarm removes meanwhile
            containers = node_client.containers.list(all=True, filters=label, sparse=True)
            for container in containers:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            volumes = node_client.volumes.list(filters=label)
            for volume in volumes:
                with contextlib.suppress(docker.errors.APIError):
                    volume.remove(force=True)
            if not (containers or volumes) or time.monotonic() > deadline:
                return
            time.sleep(1)
    finally:
        node_client.close()
