{
    "name": "Shop Base (demo)",
    "version": "1.0.0",  # no series prefix: Odoo prefixes the one it runs (17.0.1.0.0, 19.0.1.0.0)
    "depends": ["sale"],
    "license": "LGPL-3",
    "installable": True,
}
