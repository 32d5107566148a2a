"""What every preflight check shares: the shape of a check, and reading a service summary.

A check takes the site's spec, the service summaries to judge (rendered or live, keyed by service name)
and the error met while resolving the image's digest (or None), and answers (passed, reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from clusters.stack.spec import SiteSpec

Severity = Literal["hard", "soft"]
Services = Mapping[str, Mapping[str, Any]]
Outcome = tuple[bool, str]
Check = Callable[[SiteSpec, Services, str | None], Outcome]


class MissingService(Exception):
    """A check needs a service the site does not have; the check fails with this message."""


def service(spec: SiteSpec, services: Services, role: str) -> Mapping[str, Any]:
    name = spec.service_name(role)
    if name not in services:
        raise MissingService(f"service {name} is missing")
    return services[name]


def arg(args: list[str], flag: str) -> str | None:
    """Value of `--flag=value` or `--flag value` (also `-d value`)."""
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None
