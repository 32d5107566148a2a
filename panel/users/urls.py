from django.urls import path

from panel.users import views

urlpatterns = [
    path("users/", views.user_list, name="user-list"),
    path("users/new/", views.user_create, name="user-create"),
    path("users/<int:pk>/role/", views.user_role, name="user-role"),
    path("users/<int:pk>/active/", views.user_active, name="user-active"),
]
