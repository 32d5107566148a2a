from django.urls import path

from clusters import views

urlpatterns = [
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/new/", views.cluster_create, name="cluster-create"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/edit/", views.cluster_edit, name="cluster-edit"),
    path("clusters/<int:pk>/delete/", views.cluster_delete, name="cluster-delete"),
    path("clusters/<int:pk>/test/", views.cluster_test, name="cluster-test"),
    path("clusters/<int:pk>/sync/", views.cluster_sync, name="cluster-sync"),
    path("clusters/<int:pk>/live/", views.cluster_live, name="cluster-live"),
    path("sites/", views.site_list, name="site-list"),
    path("sites/new/", views.site_create, name="site-create"),
    path("sites/<slug:slug>/", views.site_detail, name="site-detail"),
    path("sites/<slug:slug>/edit/", views.site_edit, name="site-edit"),
    path("sites/<slug:slug>/delete/", views.site_delete, name="site-delete"),
    path("sites/<slug:slug>/domains/new/", views.domain_create, name="domain-create"),
    path("domains/", views.domain_list, name="domain-list"),
    path("domains/<int:pk>/edit/", views.domain_edit, name="domain-edit"),
    path("domains/<int:pk>/delete/", views.domain_delete, name="domain-delete"),
]
