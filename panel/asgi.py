"""ASGI entry point: live logs are server-sent events, which must not hold a thread per viewer.

BodySizeLimit refuses an oversized request body before Django reads it (panel/uploads.py)."""

import os

from django.core.asgi import get_asgi_application

from panel.uploads import BodySizeLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
application = BodySizeLimit(get_asgi_application())
