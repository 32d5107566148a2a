"""Backups of a site's database (pg_dump in a one-off task on its network) and restores of them."""
