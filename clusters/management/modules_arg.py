"""The command-line checks of `site rehearse` (and of what an update is asked for): bad input is
refused with exit 2 before a job exists, as is an update the site's green-rehearsal policy refuses."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from clusters.models import Site
from clusters.sites.module_update.policy import PolicyRefused, update_params
from clusters.stack.rules import DIGEST_RE, IMAGE_RE
from clusters.stack.spec import validate_modules
from panel.cli import REFUSED, acting_user


def installed_names(site: Site, modules: str) -> tuple[str, ...]:
    """The plain module names of `a,b`, refused when one is `all`, `base`, not plain, or (when the
    site's modules were read) not installed: `-u` silently ignores those."""
    try:
        names = validate_modules(modules.split(","))
    except ValueError as exc:
        raise CommandError(str(exc), returncode=REFUSED) from exc
    if site.installed_modules:
        missing = [m for m in names if site.installed_modules.get(m, [""])[0] != "installed"]
        if missing:
            read = f"{site.modules_read_at:%Y-%m-%d %H:%M}" if site.modules_read_at else "their last read"
            raise CommandError(
                f"not installed in {site.db_name} (as read at {read}): {', '.join(missing)}; "
                "`-u` would silently ignore them, install them instead",
                returncode=REFUSED,
            )
    return names


def image_arg(ref: str) -> str:
    """Empty (the site's pinned digest), repo[:tag] (resolved by the job at its registry) or
    repo@sha256:<64 hex>; anything else is refused."""
    repo, at, digest = ref.partition("@")
    if ref and not (IMAGE_RE.match(repo) and (not at or DIGEST_RE.match(digest))):
        raise CommandError(f"--image {ref!r}: give repo[:tag] or repo@sha256:<64 hex>", returncode=REFUSED)
    return ref


def update_request(site: Site, names: tuple[str, ...], *, backup: bool, override: str) -> dict[str, Any]:
    """The parameters of `site update`, or exit 2 when the green-rehearsal policy refuses it (an
    override is an admin's, named with --as, and written)."""
    try:
        return update_params(site, names, backup=backup, user=acting_user(), override=override)
    except PolicyRefused as exc:
        raise CommandError(str(exc), returncode=REFUSED) from exc
