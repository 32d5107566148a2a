from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "clusters.approvals"
    label = "approvals"
    verbose_name = "Approval gate"

    def ready(self) -> None:
        from clusters.approvals import checks  # noqa: F401  (registers the system checks)
