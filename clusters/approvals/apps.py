from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "clusters.approvals"
    label = "approvals"
    verbose_name = "Approval gate"
