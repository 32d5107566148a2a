# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Base",
    "version": "1.3",
    "category": "Hidden",
    "depends": [],
    "auto_install": True,
    "summary": "Stand-in for Odoo's base module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
