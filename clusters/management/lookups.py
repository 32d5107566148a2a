"""Rows a command names on its command line, or a refusal (exit 2) that says how to find them."""

from django.core.management.base import CommandError

from clusters.models import Site
from panel.cli import REFUSED


def site_named(slug: str) -> Site:
    site = Site.objects.select_related("cluster").filter(slug=slug).first()
    if site is None:
        raise CommandError(f"no site {slug!r}; `site list` shows them", returncode=REFUSED)
    return site
