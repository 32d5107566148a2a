from django.contrib.auth import views as auth_views
from django.urls import include, path

from panel import views
from panel.auth import LoginView
from panel.metrics.views import metrics

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("clusters.urls")),
    path("", include("jobs.urls")),
    path("", include("clusters.approvals.urls")),
    path("", include("panel.audit.urls")),
    path("", include("panel.users.urls")),
    path("", include("panel.notify.urls")),
]
