# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Contacts",
    "version": "1.0",
    "category": "Sales/CRM",
    "depends": ["base", "mail"],
    "application": True,
    "summary": "Stand-in for Odoo's contacts module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
