# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Web",
    "version": "1.0",
    "category": "Hidden",
    "depends": ["base"],
    "auto_install": True,
    "summary": "Stand-in for Odoo's web module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
