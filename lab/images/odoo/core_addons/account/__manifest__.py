# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: dependencies simplified from Odoo 17 (the real graph is much larger).
{
    "name": "Invoicing",
    "version": "1.2",
    "category": "Accounting/Accounting",
    "depends": ["product"],
    "application": True,
    "summary": "Stand-in for Odoo's account module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
}
