"""The names the renderer gives a site's Swarm objects, for code that only has the site's slug.

`SiteSpec.service_name(role)` and `SiteSpec.network_name` call these, so `service_name("acme", "odoo")`
is the name of the rendered `acme_odoo` service. The one-off tasks are named the same way by their kind.
"""

from __future__ import annotations

ROLES = ("db", "redis", "odoo", "cron")  # the site's long-running services, in creation order


def service_name(slug: str, role: str) -> str:
    """The Swarm service of `role` in the site `slug`, e.g. ("acme", "odoo") -> "acme_odoo"."""
    return f"{slug}_{role}"


def network_name(slug: str) -> str:
    """The site's own overlay network."""
    return f"{slug}_net"
