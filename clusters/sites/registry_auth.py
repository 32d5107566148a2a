"""A site's registry credentials go to the registry they were entered for, and to no other.

The credentials are stored with that registry (Site.registry_host: lower-case host[:port], "docker.io" for
Docker Hub). Whatever sends them to a registry, or asks an engine to (the digest resolution of the
preflight page, the deploy's "Resolve image" step), takes them from `registry_auth_for`: it gives them
only for an image on that same registry. An image moved to another registry is resolved without them,
and `credentials_mismatch` says why, for the page and the job log.

The one-off tasks (image check, gate, database init, module update) run as Swarm services on the pinned
image with no registry auth of the panel's: the nodes pull with their own `docker login`.
"""

from clusters.models import Site
from clusters.stack.rules import image_registry
from panel.crypto import reveal


def registry_auth_for(site: Site, image: str) -> tuple[str, str] | None:
    """(username, password) when `image` is on the registry the site's credentials were entered for;
    None when the site has none, or they are for another registry (or for none recorded)."""
    if not site.registry_username or not site.registry_host:
        return None
    if image_registry(image) != site.registry_host:
        return None
    return site.registry_username, reveal(site.registry_password)


def credentials_mismatch(site: Site, image: str) -> str | None:
    """Why the site's credentials are not sent for `image`, or None (it has none, or they are for the
    image's registry). Never names the username or the password."""
    if not site.registry_username or registry_auth_for(site, image) is not None:
        return None
    wanted = image_registry(image)
    entered = site.registry_host or "no recorded registry"
    return (
        f"the registry credentials are for {entered}; the image is on {wanted}: they were not sent. "
        f"Re-enter them for {wanted} on the site's form (or clear the username if it needs none)."
    )
