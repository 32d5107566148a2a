# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Products & Pricelists",
    "version": "1.2",
    "category": "Sales/Sales",
    "depends": ["base", "mail"],
    "summary": "Stand-in for Odoo's product module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
