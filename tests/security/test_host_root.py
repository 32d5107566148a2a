"""No operator becomes root on a Swarm node through a site's settings.

A bind mount of `/` (or of any system folder) given to an image the operator chooses is root on the node.
It is refused when a site is saved (page and command alike), and a row stored by other means is still
never rendered: the site's services and every one-off task the panel runs beside it raise SpecError
naming the reason. The lab keeps its bind filestores under its own root.
"""

import dataclasses
import html
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from clusters.models import Cluster, Site
from clusters.sites import checksums, image_addons, image_check
from clusters.sites.site_spec import spec_for
from clusters.stack import SiteSpec, SpecError, backup_tasks
from clusters.stack.render import (
    render,
    render_backup_task,
    render_image_task,
    render_probe_task,
    render_query_task,
    render_restore_task,
    render_update_task,
)
from lab.api import FILESTORE_ROOT
from tests import factories

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "a" * 64
FORM = {
    "slug": "acme",
    "series": "17.0",
    "image": "registry.example.com/odoo:17.0",
    "replicas": 2,
    "workers": 0,
    "db_name": "acme",
    "db_node": "manager1",
    "filestore_kind": "bind",
    "bind_path": "/",
    "nfs_options": "rw,nfsvers=4",
    "addons_path": "/mnt/extra-addons",
    "traefik_version": "v3",
    "traefik_entrypoint": "websecure",
    "traefik_certresolver": "le",
    "traefik_network": "traefik-public",
    "sticky_cookie": "odoo_sticky",
    "db_image": "postgres:16",
    "redis_image": "redis:7-alpine",
}
LAB_ONLY = "A host folder filestore is only for the lab: on cluster prod it would mount a node's own disk"
ROOT_FS = "Bind path '/' is the host's root filesystem"

# Every renderer of a ServiceSpec the panel runs for a site: its four services and each one-off task.
RENDERERS: dict[str, Callable[[SiteSpec], Any]] = {
    "services": render,
    "module update": lambda s: render_update_task(s, ["sale"], "j1"),
    "module install": lambda s: render_update_task(s, ["sale"], "j1", install=True),
    "backup": lambda s: render_backup_task(s, "acme.dump", "j1"),
    "restore": lambda s: render_restore_task(s, "acme.dump", "j1"),
    "restore drill": lambda s: backup_tasks.render_drill_task(s, "acme.dump", "", "j1"),
    "backup prune": lambda s: backup_tasks.render_prune_task(s, ["acme.dump"], "j1"),
    "module read (query)": lambda s: render_query_task(s, "select 1", "j1"),
    "health probe": lambda s: render_probe_task(s, "j1"),
    "image task": lambda s: render_image_task(s, "x", ["true"], run_id="j1"),
    "checksums": lambda s: checksums.render_checksum_task(s, "j1"),
    "image addons": lambda s: image_addons.render_addons_task(s, "j1"),
    "manifests": lambda s: image_check.render_manifest_task(s, "j1"),
}


def run(*args: str) -> tuple[int, str]:
    try:
        call_command(*args, stdout=None)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, ""


def test_operator_page_refuses_a_bind_of_root_on_a_production_cluster(personas):  # type: ignore[no-untyped-def]
    cluster = factories.cluster(name="prod")
    response = personas.client("operator").post(reverse("site-create"), {**FORM, "cluster": cluster.pk})
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert LAB_ONLY in body and ROOT_FS in body
    assert not Site.objects.exists()


def test_operator_page_cannot_switch_a_site_to_a_bind_of_root(personas):  # type: ignore[no-untyped-def]
    cluster = factories.cluster(name="prod")
    site = factories.site(cluster, slug="acme")
    response = personas.client("operator").post(
        reverse("site-edit", args=["acme"]), {**FORM, "cluster": cluster.pk}
    )
    assert response.status_code == 400 and LAB_ONLY in html.unescape(response.content.decode())
    site.refresh_from_db()
    assert (site.filestore_kind, site.bind_path) == ("nfs", "")


def test_operator_command_refuses_a_bind_of_root(personas):  # type: ignore[no-untyped-def]
    factories.cluster(name="prod")
    code, message = run(
        "site", "--as", "bob", "create", "acme", "--cluster", "prod", "--image", FORM["image"],
        "--series", "17.0", "--db-node", "manager1", "--bind-path", "/",
    )  # fmt: skip
    assert code == 2 and LAB_ONLY in message and ROOT_FS in message
    assert not Site.objects.exists()
    factories.site(Cluster.objects.get(name="prod"), slug="acme")
    code, message = run(
        "site", "--as", "bob", "edit", "acme", "--set", "filestore_kind=bind", "--set", "bind_path=/"
    )
    assert code == 2 and LAB_ONLY in message
    assert Site.objects.get(slug="acme").filestore_kind == "nfs"


@pytest.mark.parametrize(
    "path, message",
    [
        ("/", "'/' is the host's root filesystem"),
        ("/var/run/docker.sock", "is in /var/run, a system folder of the host"),
        ("/run/oplab-w1/docker.sock", "is in /run, a system folder of the host"),
        ("/proc/1/root", "is in /proc"),
        ("/dev/sda", "is in /dev"),
        ("/etc", "is in /etc"),
        ("/root/.ssh", "is in /root"),
        ("/boot", "is in /boot"),
        ("/sys/kernel", "is in /sys"),
        ("/var/lib/docker/volumes", "is in /var/lib/docker"),
        ("/var", "holds /var/run"),
        ("/var/lib", "holds /var/lib/docker"),
        ("/srv//acme", "without '..', '//'"),
        ("/srv/acme/", "is not normalised (write it '/srv/acme')"),
        ("/srv/./acme", "is not normalised"),
        ("/srv/../etc", "without '..'"),
        ("/srv/docker.sock", "names a socket"),
    ],
)
def test_even_a_lab_site_cannot_bind_a_system_folder(path, message):  # type: ignore[no-untyped-def]
    lab = factories.cluster(name="lab", is_lab=True)
    site = Site(**{**FORM, "cluster": lab, "bind_path": path})
    with pytest.raises(ValidationError) as info:
        site.full_clean()
    assert message in " ".join(info.value.message_dict["bind_path"])
    assert "filestore_kind" not in info.value.message_dict  # the lab may use a host folder
    forced = factories.site(lab, slug="acme", filestore_kind="bind", bind_path=path, image_digest=DIGEST)
    for renderer in RENDERERS.values():
        with pytest.raises(SpecError, match="could reach a node's host|must be an absolute path without"):
            renderer(spec_for(forced))  # a '..' is refused by SiteSpec itself, before the host rule


def test_traefik_network_host_is_refused_on_save():  # type: ignore[no-untyped-def]
    site = Site(**{**FORM, "cluster": factories.cluster(name="lab", is_lab=True), "bind_path": "/srv/a"})
    site.traefik_network = "host"
    with pytest.raises(ValidationError) as info:
        site.full_clean()
    assert info.value.message_dict["traefik_network"] == [
        "Network 'host' is the node's own network, not an overlay"
    ]


@pytest.fixture(params=["production", "lab"])
def forced_root(request: pytest.FixtureRequest) -> tuple[Site, str]:
    """A site with a bind filestore of `/`, written to the database without the form."""
    lab = request.param == "lab"
    cluster = factories.cluster(name=request.param, is_lab=lab)
    site = factories.site(cluster, slug="acme", filestore_kind="bind", bind_path="/", image_digest=DIGEST)
    reason = (
        "bind path '/' is the host's root filesystem"
        if lab
        else "bind mount of host folder '/' refused outside the lab"
    )
    return site, reason


@pytest.mark.parametrize("what", RENDERERS)
def test_a_forced_row_never_renders(forced_root, what):  # type: ignore[no-untyped-def]
    site, reason = forced_root
    with pytest.raises(SpecError) as info:
        RENDERERS[what](spec_for(site))
    assert f"the settings of site acme could reach a node's host: filestore: {reason}" in str(info.value)


def test_a_forced_traefik_host_network_never_renders():  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(), slug="acme", traefik_network="host", image_digest=DIGEST)
    for renderer in RENDERERS.values():
        with pytest.raises(SpecError, match="Traefik network 'host' is the node's own network"):
            renderer(spec_for(site))


def test_a_lab_site_under_the_lab_filestore_root_still_renders():  # type: ignore[no-untyped-def]
    lab = factories.cluster(name="lab", is_lab=True)
    site = Site(**{**FORM, "cluster": lab, "bind_path": f"{FILESTORE_ROOT}/acme", "image_digest": DIGEST})
    site.full_clean()
    site.save()
    spec = spec_for(site)
    for renderer in RENDERERS.values():
        renderer(spec)
    odoo = render(spec).service("odoo")
    assert [(m["Type"], m["Source"]) for m in odoo.mounts] == [("bind", f"{FILESTORE_ROOT}/acme")]
    # Where the renderer knows the lab's filestore root, the folder must lie inside it.
    render(dataclasses.replace(spec, lab_filestore_root=str(FILESTORE_ROOT)))
    outside = dataclasses.replace(spec, lab_filestore_root="/srv/other-lab")
    with pytest.raises(SpecError, match="not a folder inside the lab's filestore root /srv/other-lab"):
        render(outside)


@pytest.mark.parametrize("where", ["", "/acme", "/.."])
def test_a_lab_site_cannot_bind_the_lab_backups_or_a_folder_holding_them(where, settings):  # type: ignore[no-untyped-def]
    path = (
        str(PurePosixPath(settings.LAB_BACKUP_ROOT + where))
        if where != "/.."
        else settings.LAB_FILESTORE_ROOT
    )
    site = Site(**{**FORM, "cluster": factories.cluster(name="lab", is_lab=True), "bind_path": path})
    with pytest.raises(ValidationError) as info:
        site.full_clean()
    assert "the lab's backups" in " ".join(info.value.message_dict["bind_path"])
