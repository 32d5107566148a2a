"""What an event is about: a type, an id and a readable name, plus the site and cluster it belongs
to, so that the review page can filter "everything that touched site acme" with one index.

Resolved once, as plain strings, because the object may be gone a second later (a delete) and the
audit row must not point at anything that can change.
"""

from dataclasses import dataclass
from typing import Any

from panel.audit.mask import text


@dataclass(frozen=True)
class Target:
    type: str = ""
    id: str = ""
    name: str = ""
    site: str = ""
    cluster: str = ""

    @classmethod
    def of(cls, obj: Any) -> "Target":
        """From a model instance, a Target, a plain string (a name) or None; never raises."""
        if obj is None:
            return cls()
        if isinstance(obj, Target):  # made by a caller: still bounded and printable
            return cls(
                type=text(obj.type, 40),
                id=text(obj.id, 64),
                name=text(obj.name, 255),
                site=text(obj.site, 64),
                cluster=text(obj.cluster, 64),
            )
        if isinstance(obj, str):
            return cls(name=text(obj, 255))
        meta = getattr(obj, "_meta", None)
        kind = getattr(meta, "model_name", "") or type(obj).__name__.lower()
        pk = getattr(obj, "pk", None)
        site, cluster = related_names(obj)
        return cls(
            type=text(kind, 40),
            id="" if pk is None else text(pk, 64),
            name=text(obj, 255),
            site=site,
            cluster=cluster,
        )


def _cached(obj: Any, name: str) -> Any:
    """A related object if it is already loaded (or loadable); None if it cannot be had."""
    try:
        return getattr(obj, name, None)
    except Exception:  # a dangling or deleted relation
        return None


def related_names(obj: Any) -> tuple[str, str]:
    """(site slug, cluster name) for sites, clusters and anything with a `site` or `cluster`."""
    kind = getattr(getattr(obj, "_meta", None), "model_name", "")
    if kind == "site":
        cluster = _cached(obj, "cluster")
        return text(getattr(obj, "slug", ""), 64), text(getattr(cluster, "name", "") or "", 64)
    if kind == "cluster":
        return "", text(getattr(obj, "name", ""), 64)
    site = _cached(obj, "site")
    if site is not None and site is not obj:
        return related_names(site)
    cluster = _cached(obj, "cluster")
    if cluster is not None and cluster is not obj:
        return "", text(getattr(cluster, "name", "") or "", 64)
    return "", ""


def site_slug(value: Any) -> str:
    if value is None:
        return ""
    return text(value if isinstance(value, str) else getattr(value, "slug", value), 64)


def cluster_name(value: Any) -> str:
    if value is None:
        return ""
    return text(value if isinstance(value, str) else getattr(value, "name", value), 64)


def job_id(value: Any) -> int | None:
    if value is None:
        return None
    pk = value if isinstance(value, int) else getattr(value, "pk", None)
    try:
        return int(pk) if pk is not None else None
    except (TypeError, ValueError):
        return None
