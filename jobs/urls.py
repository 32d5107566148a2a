from django.urls import path

from jobs import views
from jobs.logs import sse

urlpatterns = [
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/log", views.job_log, name="job-log"),
    path("jobs/<int:job_id>/log.txt", views.job_log_download, name="job-log-download"),
    path("jobs/<int:job_id>/events", sse.job_events, name="job-events"),
    path("jobs/<int:job_id>/cancel", views.job_cancel, name="job-cancel"),
]
