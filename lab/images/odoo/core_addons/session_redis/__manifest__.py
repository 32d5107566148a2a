# ruff: noqa: B018 (a manifest is a bare dict literal)
# camptocamp/odoo-cloud-platform session_redis (depends on base). Its version has no series
# prefix so that adapt_version gives <series>.1.0.0 whatever ODOO_STANDIN_SERIES is.
{
    "name": "Sessions in Redis",
    "version": "1.0.0",
    "category": "Extra Tools",
    "depends": ["base"],
    "author": "Camptocamp,Odoo Community Association (OCA)",
    "license": "AGPL-3",
    "summary": "Store web sessions in Redis",
    "external_dependencies": {"python": ["redis"]},
    "installable": True,
}
