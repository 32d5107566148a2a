{
    "name": "Shop Base (demo)",
    "version": "17.0.1.0.0",
    "depends": ["sale"],
    "license": "LGPL-3",
    "installable": True,
}
