"""The module update: `odoo -u` (or `-i`) on a site held at 0 replicas, judged by exit code and log."""
