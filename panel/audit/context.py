"""The request being served, for code that records an event without being handed the request.

A job created deep inside a view, or a signal receiver, still knows who asked and under which
request id: RequestIdMiddleware binds the request here for the duration of the response. A
ContextVar (not a thread-local) so that ASGI requests running in the same thread stay apart.
"""

import getpass
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

_current: ContextVar[HttpRequest | None] = ContextVar("panel_audit_request", default=None)

# A caller-supplied X-Request-ID is kept only if it is short and plain, so it can be logged and
# searched without quoting; anything else is replaced by a fresh id.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")


def request_id_from(header: str | None) -> str:
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def bound(request: HttpRequest) -> Iterator[None]:
    token = _current.set(request)
    try:
        yield
    finally:
        _current.reset(token)


def current_request() -> HttpRequest | None:
    return _current.get()


def request_id_of(request: Any) -> str:
    return str(getattr(request, "request_id", "") or "") if request is not None else ""


def client_address_of(request: Any) -> str:
    if request is None:
        return ""
    return client_address(request)


def client_address(request: HttpRequest) -> str:
    """Who a request came from, as the login throttle and the audit log both name it."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def cli_actor() -> str:
    """The actor of a command-line action: the machine's operator, by their unix name.

    Management commands run with the machine's rights (root or the service user), not a panel role;
    the unix name is what ops can trace back (sudo logs, ssh keys)."""
    try:
        name = getpass.getuser()
    except Exception:  # no passwd entry in a bare container
        name = "unknown"
    return f"cli:{name}"


_acting: ContextVar[Any] = ContextVar("panel_cli_user", default=None)


def acting_user() -> Any:
    """The panel user a command acts as (`--as`), or None when it acts as the machine's operator."""
    return _acting.get()


def command_actor() -> Any:
    """Who a command's audit events name: the `--as` user, else the machine's operator."""
    return acting_user() or cli_actor()


@contextmanager
def acting_as(user: Any) -> Iterator[None]:
    token = _acting.set(user)
    try:
        yield
    finally:
        _acting.reset(token)
