# ruff: noqa: B018 (a manifest is a bare dict literal)
# OCA session_db (server-tools), as an image carries it: sessions in PostgreSQL at $SESSION_DB_URI,
# loaded server-wide (--load=...,session_db). The stand-in's code for it is standin/sessions.py.
{
    "name": "Sessions in Database",
    "summary": "Store sessions in DB",
    "version": "16.0.1.0.0",
    "license": "LGPL-3",
    "author": "Odoo SA,ACSONE SA/NV,Odoo Community Association (OCA)",
    "website": "https://github.com/OCA/server-tools",
    "category": "Extra Tools",
    "depends": ["base"],
    "external_dependencies": {"python": ["psycopg2"]},
    "installable": True,
}
