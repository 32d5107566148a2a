from django.urls import path

from clusters.approvals import api, token_views, views

urlpatterns = [
    path("changes/", views.change_list, name="change-list"),
    path("changes/<int:change_id>/", views.change_detail, name="change-detail"),
    path("changes/<int:change_id>/approve/", views.change_approve, name="change-approve"),
    path("changes/<int:change_id>/reject/", views.change_reject, name="change-reject"),
    path("changes/<int:change_id>/override/", views.change_override, name="change-override"),
    path("sites/<slug:slug>/changes/new/", views.change_submit, name="change-submit"),
    path("sites/<slug:slug>/changes/folder/", views.change_submit_folder, name="change-submit-folder"),
    path("tokens/", token_views.token_list, name="token-list"),
    path("tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("api/sites/<slug:slug>/changes", api.submit, name="api-change-submit"),
    path("api/sites/<slug:slug>/check", api.check, name="api-site-check"),
    path("api/changes/<int:change_id>", api.change_detail, name="api-change-detail"),
]
