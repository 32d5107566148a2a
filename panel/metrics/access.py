"""Who may read /metrics: an address in PANEL_METRICS_ALLOW, or the bearer of PANEL_METRICS_TOKEN.

The figures name clusters and sites and show how busy the panel is: not for the public, but not
secret enough to need a user account (Prometheus has none). Loopback is allowed by default so that
a Prometheus (or an agent) on the panel's host scrapes without setup; anything else needs the token
or an allow-list entry.

A request carrying X-Forwarded-For or Forwarded came through a proxy: its REMOTE_ADDR is the
proxy's, often loopback, which would open /metrics to whoever reaches the proxy. Such a request is
judged by the token alone.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = "127.0.0.1/8,::1"


def parse_allow(raw: str, name: str = "PANEL_METRICS_ALLOW") -> tuple[Network, ...]:
    """Comma-separated addresses or networks (host bits may be set, as in 127.0.0.1/8); an empty
    value allows no address, so only the token opens /metrics. Called once, from settings."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 127.0.0.1/8,::1,10.0.0.0/24)"
            ) from exc
    return tuple(networks)


def address_allowed(address: str, networks: Iterable[Network]) -> bool:
    """Whether an address lies in one of the networks; an IPv4 client seen on a dual-stack socket
    (::ffff:127.0.0.1) is judged as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def bearer_matches(request: HttpRequest, token: str) -> bool:
    """An `Authorization: Bearer <token>` header equal to the configured token (compared in
    constant time); never true when no token is configured."""
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def proxied(request: HttpRequest) -> bool:
    return bool(request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"))


def may_read(request: HttpRequest, address: str, networks: Sequence[Network], token: str) -> bool:
    if bearer_matches(request, token):
        return True
    return not proxied(request) and address_allowed(address, networks)
