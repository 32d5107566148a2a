{
    "name": "Shop Sale (demo)",
    "version": "17.0.1.0.0",
    "depends": ["shop_base"],
    "license": "LGPL-3",
    "installable": True,
}
