# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Inventory",
    "version": "1.1",
    "category": "Inventory/Inventory",
    "depends": ["product"],
    "application": True,
    "summary": "Stand-in for Odoo's stock module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
