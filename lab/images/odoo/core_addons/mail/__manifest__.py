# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Discuss",
    "version": "1.15",
    "category": "Productivity/Discuss",
    "depends": ["base", "bus", "web"],
    "application": True,
    "summary": "Stand-in for Odoo's mail module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
