from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PanelConfig(AppConfig):
    name = "panel"
    verbose_name = "Panel"

    def ready(self) -> None:
        post_migrate.connect(_create_role_groups, sender=self)
        from panel.audit import signals  # noqa: F401  (logins, logouts, failed logins; triggers)


def _create_role_groups(**kwargs: object) -> None:
    from panel.roles import ensure_role_groups

    ensure_role_groups()
