"""Site (the panel's row) -> SiteSpec (what clusters.stack renders): the one mapping between them."""

from typing import Any

from django.conf import settings

from clusters.edge.fallbacks import serves_error_pages
from clusters.edge.maintenance import ERRORS_MIDDLEWARE
from clusters.models import Site
from clusters.stack import BindFilestore, NfsFilestore, SiteSpec, TraefikSpec
from clusters.stack.backup_store import site_backup_store
from clusters.stack.spec import split_addons_path
from panel.crypto import reveal

# The lab's stand-in answers /web/health within a second of starting, so the lab checks often and
# waits briefly; real Odoo keeps the SiteSpec defaults (a long start period while the registry loads).
# A task that never turns healthy fails the update whatever the monitor window (Swarm waits for it
# to run before stopping an old one), so the window only delays "completed": kept short here.
LAB_TIMING: dict[str, int] = {
    "health_interval_s": 2,
    "health_timeout_s": 3,
    "health_retries": 3,
    "health_start_period_s": 8,
    "update_monitor_s": 3,
    "update_delay_s": 1,
    "stop_grace_period_s": 5,
}


START_INTERVAL_ENGINE = (25, 0)  # Docker 25.0, API 1.44: the first engine with a healthcheck StartInterval


def engine_version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    """`version` as an engine reports it ("20.10.24", "25.0.3", "28.2.2+dfsg1"); unknown is too old."""
    parts = version.split("+")[0].split("-")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= wanted
    except (ValueError, IndexError):
        return False


def engines_have_start_interval(cluster: Any) -> bool:
    """Every node's engine honours StartInterval (a node that has not reported its engine counts as old;
    with no node synced yet, the cluster's own engine speaks for all)."""
    versions = [n.engine_version for n in cluster.nodes.all()] or [cluster.engine_version]
    return all(engine_version_at_least(v, START_INTERVAL_ENGINE) for v in versions)


def backup_root_of(cluster: Any) -> str:
    """The cluster's backup root; a lab that names none gets the lab's (settings.LAB_BACKUP_ROOT)."""
    return cluster.backup_root or (settings.LAB_BACKUP_ROOT if cluster.is_lab else "")


def spec_for(site: Site, *, image_digest: str | None = None) -> SiteSpec:
    """Build the spec from the site and its domains; `image_digest` overrides the pinned one
    (a deploy renders with the digest it just resolved, before saving it)."""
    filestore: NfsFilestore | BindFilestore
    if site.filestore_kind == Site.Filestore.NFS:
        filestore = NfsFilestore(server=site.nfs_server, export=site.nfs_export, options=site.nfs_options)
    else:
        filestore = BindFilestore(path=site.bind_path)
    timing: dict[str, Any] = LAB_TIMING if site.cluster.is_lab else {}
    return SiteSpec(
        slug=site.slug,
        image=site.image,
        image_digest=image_digest or site.image_digest or None,
        db_name=site.db_name,
        db_node=site.db_node,
        db_password=reveal(site.db_password),
        redis_password=reveal(site.redis_password),
        db_image=site.db_image,
        redis_image=site.redis_image,
        filestore=filestore,
        domains=tuple(d.name for d in site.domains.all()),
        cluster_mode="lab" if site.cluster.is_lab else "production",
        lab_filestore_root=settings.LAB_FILESTORE_ROOT if site.cluster.is_lab else None,
        backup_store=site_backup_store(backup_root_of(site.cluster), site.slug),
        replicas=site.replicas,
        workers=site.workers,
        series=site.series,
        session_store=site.session_store or None,  # type: ignore[arg-type]
        addons_path=split_addons_path(site.addons_path),
        traefik=TraefikSpec(
            version="v2" if site.traefik_version == "v2" else "v3",
            entrypoint=site.traefik_entrypoint,
            certresolver=site.traefik_certresolver or None,
            network=site.traefik_network or None,
            sticky_cookie=site.sticky_cookie,
            tls=not site.cluster.is_lab,
            middlewares=(ERRORS_MIDDLEWARE,)
            if serves_error_pages(site.cluster, site.traefik_network)
            else (),
        ),
        engine_start_interval=engines_have_start_interval(site.cluster),
        **timing,
    )
