# ruff: noqa: B018 (a manifest is a bare dict literal)
# camptocamp/odoo-cloud-platform session_redis, as an image carries it (no 19.0 release exists).
# The stand-in's code for it is standin/sessions.py.
{
    "name": "Sessions in Redis",
    "summary": "Store web sessions in Redis",
    "version": "18.0.1.0.0",
    "category": "Extra Tools",
    "author": "Camptocamp,Odoo Community Association (OCA)",
    "license": "AGPL-3",
    "depends": ["base"],
    "external_dependencies": {"python": ["redis"]},
    "installable": True,
}
