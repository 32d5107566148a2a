"""Odoo stand-in: honours the Odoo 16-19 contracts the panel relies on, nothing more.

Modules: config (CLI, odoo.conf, env), log (Odoo's log format), pg (driver), manifest (addons on disk),
schema (tables), graph and modules (Odoo's dependency logic), loading (load_modules / registry),
sessions, httpd, crons, server (main).
"""

import os

# The Odoo series being imitated (behaviour differs between 16, 17, 18 and 19).
SERIES = os.environ.get("ODOO_STANDIN_SERIES", "17.0")
MAJOR = int(SERIES.split(".")[0])
