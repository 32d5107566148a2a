from django.urls import path

from panel.audit import views

urlpatterns = [
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.export_csv, name="audit-export-csv"),
    path("audit/export.json", views.export_json, name="audit-export-json"),
]
