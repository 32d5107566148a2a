from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "panel.notify"
    label = "notify"
    verbose_name = "Notifications"
