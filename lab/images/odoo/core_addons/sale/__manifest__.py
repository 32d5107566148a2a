# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Sales",
    "version": "1.2",
    "category": "Sales/Sales",
    "depends": ["product", "account"],
    "summary": "Stand-in for Odoo's sale module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
