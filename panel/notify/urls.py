from django.urls import path

from panel.notify import views

urlpatterns = [
    path("notifications/", views.channel_list, name="notify-channel-list"),
    path("notifications/new/", views.channel_create, name="notify-channel-create"),
    path("notifications/<int:pk>/", views.channel_detail, name="notify-channel-detail"),
    path("notifications/<int:pk>/edit/", views.channel_edit, name="notify-channel-edit"),
    path("notifications/<int:pk>/enabled/", views.channel_enabled, name="notify-channel-enabled"),
    path("notifications/<int:pk>/test/", views.channel_test, name="notify-channel-test"),
    path("notifications/<int:pk>/delete/", views.channel_delete, name="notify-channel-delete"),
]
