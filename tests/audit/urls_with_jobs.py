"""The panel's URLs plus stand-in job pages, to show that events link to their job and its log.
Listed last: for a name defined twice, reverse() takes the last definition."""

from django.http import HttpResponse
from django.urls import path

from panel.urls import urlpatterns as panel_urlpatterns

urlpatterns = [
    *panel_urlpatterns,
    path("test-jobs/<int:pk>/", lambda request, pk: HttpResponse(str(pk)), name="job-detail"),
    path("test-jobs/<int:pk>/log", lambda request, pk: HttpResponse(str(pk)), name="job-log"),
]
