from importlib import import_module

from django.apps import AppConfig

# The modules that register the site jobs' runners and undo actions. They are imported at
# startup, in the web process (which kinds lock their site) and in workers (to run them).
RUNNER_MODULES = (
    "clusters.sites.client",
    "clusters.sites.deploy",
    "clusters.sites.scale",
    "clusters.sites.modules",
    "clusters.sites.module_update.update",
    "clusters.sites.module_update.rehearsal",
    "clusters.sites.backups.backup",
    "clusters.sites.backups.restore",
    "clusters.sites.backups.drill",
    "clusters.edge.deploy",
)


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Clusters and sites"

    def ready(self) -> None:
        from clusters import metrics
        from clusters.models import Cluster, Site
        from panel import names

        for module in RUNNER_MODULES:
            import_module(module)
        names.supply(
            "clusters", lambda: Cluster.objects.order_by("name").values_list("name", flat=True)[:200]
        )
        names.supply("sites", lambda: Site.objects.order_by("slug").values_list("slug", flat=True)[:500])
        metrics.register()
