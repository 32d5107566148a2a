"""A site's backup folder for one backup: under the backup root its row names (where it was taken), or
the cluster's root now (where the next one goes). clusters/stack/backup_store.py says what a root is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from clusters.models import Site
from clusters.sites.site_spec import backup_root_of, spec_for
from clusters.stack.backup_store import legacy_backup_volume, site_backup_store
from clusters.stack.spec import BindFilestore, SiteSpec


def current_root(site: Site) -> str:
    """Where the site's next backup goes (recorded on its row)."""
    return backup_root_of(site.cluster)


def spec_at(site: Site, root: str) -> SiteSpec:
    """The site's spec with its backup folder under `root`. On a lab the folder is created here: the
    lab's nodes share this machine's disk (as deploy creates a lab filestore), and Swarm refuses to
    bind a folder that does not exist."""
    spec = replace(spec_for(site), backup_store=site_backup_store(root, site.slug))
    if site.cluster.is_lab and isinstance(spec.backup_store, BindFilestore):
        Path(spec.backup_store.path).mkdir(parents=True, exist_ok=True)
    return spec


def described(spec: SiteSpec) -> str:
    """Where the backups of `spec` are, for the job's log."""
    store = spec.backup_store
    if store is None:
        return f"volume {legacy_backup_volume(spec)} on {spec.db_node} (lost with that node)"
    if isinstance(store, BindFilestore):
        return f"{store.path} (shared by every node)"
    return f"{store.server}:{store.export} (NFS)"
