from . import models  # noqa: F401 - Odoo loads the model by importing the addon
