from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PanelConfig(AppConfig):
    name = "panel"
    verbose_name = "Panel"

    def ready(self) -> None:
        post_migrate.connect(_create_role_groups, sender=self)


def _create_role_groups(**kwargs: object) -> None:
    from panel.roles import ensure_role_groups

    ensure_role_groups()
