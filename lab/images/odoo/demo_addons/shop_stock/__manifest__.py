{
    "name": "Shop Stock (demo)",
    "version": "17.0.1.0.0",
    "depends": ["stock", "shop_base"],
    "license": "LGPL-3",
    "installable": True,
}
