"""ASGI entry point: live logs are server-sent events, which must not hold a thread per viewer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
application = get_asgi_application()
