"""The Django project: settings, roles, the dashboard and the Celery app."""

from panel.celery import app as celery_app

__all__ = ["celery_app"]
