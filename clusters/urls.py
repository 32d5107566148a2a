from django.urls import path

from clusters import dashboard, views
from clusters.sites import actions as site_actions

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/new/", views.cluster_create, name="cluster-create"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/edit/", views.cluster_edit, name="cluster-edit"),
    path("clusters/<int:pk>/delete/", views.cluster_delete, name="cluster-delete"),
    path("clusters/<int:pk>/test/", views.cluster_test, name="cluster-test"),
    path("clusters/<int:pk>/sync/", views.cluster_sync, name="cluster-sync"),
    path("clusters/<int:pk>/live/", views.cluster_live, name="cluster-live"),
    path("clusters/<int:pk>/edge/", views.cluster_edge, name="cluster-edge"),
    path("clusters/<int:pk>/edge/deploy/", views.cluster_edge_deploy, name="cluster-edge-deploy"),
    path("sites/", views.site_list, name="site-list"),
    path("sites/new/", views.site_create, name="site-create"),
    path("sites/<slug:slug>/", views.site_detail, name="site-detail"),
    path("sites/<slug:slug>/edit/", views.site_edit, name="site-edit"),
    path("sites/<slug:slug>/delete/", views.site_delete, name="site-delete"),
    path("sites/<slug:slug>/domains/new/", views.domain_create, name="domain-create"),
    path("sites/<slug:slug>/preflight/", views.site_preflight, name="site-preflight"),
    path("sites/<slug:slug>/drift/", views.site_drift_check, name="site-drift"),
    path("sites/<slug:slug>/deploy/", site_actions.site_deploy, name="site-deploy"),
    path("sites/<slug:slug>/reconcile/", site_actions.site_reconcile, name="site-reconcile"),
    path("sites/<slug:slug>/scale/", site_actions.site_scale, name="site-scale"),
    path("sites/<slug:slug>/modules/read/", site_actions.site_read_modules, name="site-read-modules"),
    path("sites/<slug:slug>/modules/update/", site_actions.site_update_modules, name="site-update-modules"),
    path("sites/<slug:slug>/backups/new/", site_actions.site_backup, name="site-backup"),
    path("sites/<slug:slug>/backups/<int:backup_id>/drill/", site_actions.site_drill, name="site-drill"),
    path(
        "sites/<slug:slug>/backups/<int:backup_id>/restore/", site_actions.site_restore, name="site-restore"
    ),
    path("domains/", views.domain_list, name="domain-list"),
    path("domains/<int:pk>/edit/", views.domain_edit, name="domain-edit"),
    path("domains/<int:pk>/delete/", views.domain_delete, name="domain-delete"),
]
