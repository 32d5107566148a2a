"""A request body is refused by its declared length (413) before anything reads it.

Django spools a multipart file to disk while parsing it, the CSRF middleware parses every POST, and
under ASGI the whole body is read before any middleware runs. So the length is checked in front of
all that: by BodySizeLimit, wrapped around the ASGI application (it also cuts a body sent without a
Content-Length at the limit), and by BodySizeLimitMiddleware, first in MIDDLEWARE, for WSGI and the
test client. A view marked @accepts_upload takes MAX_UPLOAD_BYTES plus room for its form fields;
every other view takes DATA_UPLOAD_MAX_MEMORY_SIZE, since no other view takes a file.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.handlers.asgi import get_script_prefix
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

# Form fields sent with an upload (title, select, CSRF token) and the multipart boundaries.
FORM_ALLOWANCE = 1 << 20
V = TypeVar("V", bound=Callable[..., Any])
Message = dict[str, Any]


def accepts_upload(view: V) -> V:
    """Mark a view that takes an uploaded archive: its requests may be MAX_UPLOAD_BYTES long."""
    view.accepts_upload = True  # type: ignore[attr-defined]
    return view


def body_rule(view: Callable[..., Any] | None) -> tuple[int | None, str]:
    """The longest body the view takes (None: no bound) and what a refusal says."""
    if getattr(view, "accepts_upload", False):
        cap: int = settings.MAX_UPLOAD_BYTES
        return cap + FORM_ALLOWANCE, f"The upload is larger than the {_size(cap)} limit."
    limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit, f"The request body is larger than the {_size(limit or 0)} this address takes."


def refusal(message: str, accept: str) -> tuple[str, bytes]:
    """(content type, body) of a 413: JSON for API clients, plain text for a browser."""
    if "text/html" in accept:
        return "text/plain; charset=utf-8", message.encode()
    return "application/json", json.dumps({"error": message, "errors": []}).encode()


def declared_length(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class BodySizeLimitMiddleware:
    """For WSGI and the test client: refuse before the CSRF middleware parses the body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], *args: Any) -> HttpResponse | None:
        limit, message = body_rule(view)
        length = declared_length(request.META.get("CONTENT_LENGTH"))
        if limit is None or length is None or length <= limit:
            return None
        content_type, body = refusal(message, request.headers.get("Accept", ""))
        return HttpResponse(body, status=413, content_type=content_type)


class BodySizeLimit:
    """ASGI: refuse by Content-Length before Django reads the body; stop one without it at the limit."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, message = body_rule(_view_at(scope))
        if limit is None:
            return await self.app(scope, receive, send)
        headers = {key.lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        accept = headers.get(b"accept", "")
        length = declared_length(headers.get(b"content-length"))
        if length is not None and length > limit:
            return await _refuse(send, message, accept)
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            if received > limit:  # refused already: read nothing more
                return {"type": "http.disconnect"}
            event = await receive()
            received += len(event.get("body", b"")) if event["type"] == "http.request" else 0
            if received > limit:
                await _refuse(send, message, accept)
                return {"type": "http.disconnect"}  # Django stops reading and sends nothing
            return event

        return await self.app(scope, bounded_receive, send)


def _view_at(scope: Message) -> Callable[..., Any] | None:
    path: str = scope["path"]
    prefix = get_script_prefix(scope)
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :] or "/"
    try:
        return resolve(path).func
    except Resolver404:
        return None


async def _refuse(send: Any, message: str, accept: str) -> None:
    content_type, body = refusal(message, accept)
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]}
    )
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n:,} bytes"
