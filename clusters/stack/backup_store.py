"""Where a site's backups live (issue 18): a cluster's backup root, the same kind of storage as a
filestore, so that a backup survives the database's node and any node can restore it.

A cluster names its backup root (Cluster.backup_root), one string in the filestore's own two shapes:
- `server:/export` (production): an NFS export, mounted by the task's node itself as the filestore
  is (the local driver's NFS options on the mount); the site's backups are in `<export>/<slug>`, a
  folder that must exist on the server (as a filestore export must);
- `/a/host/folder` (the lab only): a folder every node sees because the lab's nodes share one disk;
  the site's backups are in `<folder>/<slug>` (the panel creates it, as it does the lab filestores).
The lab's root lies inside the lab's filestore root (settings.LAB_BACKUP_ROOT): the host rule
(host_access.py) then allows it exactly as it allows a lab filestore, with no exception of its own.

An empty root is the old place: the named volume `<slug>_backups` on the database's node. Every
backup taken before backup roots existed is there (its row's `backup_root` is empty), so a restore or
a drill of one mounts that volume on the database's node, as before; new backups of a cluster without
a root still go there, and die with the node.
"""

from __future__ import annotations

import hashlib

from docker.types import DriverConfig, Mount

from clusters.stack.service_parts import panel_labels, volume
from clusters.stack.spec import BindFilestore, NfsFilestore, SiteSpec, SpecError

BACKUP_TARGET = "/backup"
BackupStore = NfsFilestore | BindFilestore


def parse_backup_root(value: str) -> BackupStore | None:
    """A cluster's backup root as storage; None for the empty root (the node-local volume)."""
    if not value:
        return None
    if value.startswith("/"):
        return BindFilestore(path=value.rstrip("/") or "/")
    server, sep, export = value.partition(":")
    if not sep or not export.startswith("/"):
        raise SpecError(f"backup root {value!r}: an NFS export server:/path, or a lab host folder /path.")
    return NfsFilestore(server=server, export=export.rstrip("/") or "/")


def site_backup_store(root: str, slug: str) -> BackupStore | None:
    """The folder of one site's backups under the cluster's backup root (None: the node's volume)."""
    store = parse_backup_root(root)
    if isinstance(store, BindFilestore):
        return BindFilestore(path=f"{store.path.rstrip('/')}/{slug}")
    if isinstance(store, NfsFilestore):
        return NfsFilestore(
            server=store.server, export=f"{store.export.rstrip('/')}/{slug}", options=store.options
        )
    return None


def legacy_backup_volume(spec: SiteSpec) -> str:
    """The node-local volume of backups taken without a backup root."""
    return f"{spec.slug}_backups"


def backup_mount(spec: SiteSpec, *, read_only: bool = False) -> Mount:
    """The site's backup folder at /backup: read-only for the tasks that only read it (restore,
    drill). The host rule judges it with every other mount of the task."""
    store = spec.backup_store
    if store is None:
        mount = volume(spec, "backups", legacy_backup_volume(spec), BACKUP_TARGET)
    elif isinstance(store, BindFilestore):
        mount = Mount(target=BACKUP_TARGET, source=store.path, type="bind")
    else:
        opts = store.volume_options
        # The name carries a hash of the options (as the filestore's): Docker never updates a local volume.
        digest = hashlib.sha256(repr(sorted(opts.items())).encode()).hexdigest()[:8]
        mount = Mount(
            target=BACKUP_TARGET,
            source=f"{spec.slug}_backups_{digest}",
            type="volume",
            driver_config=DriverConfig("local", opts),
            labels=panel_labels(spec, "backups"),
        )
    if read_only:
        mount["ReadOnly"] = True
    return mount
