"""Names the filter forms suggest (site slugs, cluster names), supplied by the apps that own them.

The job list and the audit log filter by site and cluster, but the shell and the job framework do
not import the domain's models: the clusters app registers its lists here at startup
(clusters.apps), and a page asks for them by kind. A kind nobody registered suggests nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_SOURCES: dict[str, Callable[[], Iterable[str]]] = {}


def supply(kind: str, source: Callable[[], Iterable[str]]) -> None:
    _SOURCES[kind] = source


def suggested(kind: str) -> Iterable[str]:
    source = _SOURCES.get(kind)
    return source() if source is not None else ()
