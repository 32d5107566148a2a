# ruff: noqa: B018 (a manifest is a bare dict literal)
# Stand-in manifest: 19's XML-RPC/JSON-RPC module, server-wide by default (19's --load is base,rpc,web).
# standin_since: the stand-in's own key, the first series whose Odoo has the module.
{
    "name": "RPC",
    "version": "1.0",
    "category": "Hidden",
    "depends": ["base"],
    "auto_install": True,
    "summary": "Stand-in for Odoo's rpc module",
    "author": "Odoo S.A.",
    "license": "LGPL-3",
    "installable": True,
    "standin_since": 19,
}
