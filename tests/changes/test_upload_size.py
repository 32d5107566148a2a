"""A body longer than its view takes is refused with 413 before anything reads it (panel/uploads.py).

UnreadBody, installed as the only upload handler, fails the test if anything parses the multipart
body: the CSRF middleware would, on any POST, before the view could look at the size.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Any

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.urls import reverse

from clusters.approvals.models import ManifestChange
from panel.uploads import BodySizeLimit
from tests.changes.conftest import upload

pytestmark = pytest.mark.django_db
UNREAD = ["tests.changes.test_upload_size.UnreadBody"]


class UnreadBody(FileUploadHandler):
    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the request body was parsed")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        raise AssertionError("the request body was parsed")

    def file_complete(self, file_size: int) -> None:
        raise AssertionError("the request body was parsed")


@pytest.fixture
def small_limit(settings):  # type: ignore[no-untyped-def]
    settings.MAX_UPLOAD_BYTES = 1024  # plus 1 MiB for the form fields
    settings.FILE_UPLOAD_HANDLERS = UNREAD


def gate_folders() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("gate-")}


def test_an_oversized_upload_gets_413_from_the_page_before_its_body_is_read(personas, site, small_limit):
    before = gate_folders()
    response = personas.client("operator").post(
        reverse("change-submit", args=[site.slug]),
        {"archive": upload(os.urandom(2 << 20)), "action": "submit"},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 413
    assert response.content.decode() == "The upload is larger than the 1,024 bytes limit."
    assert not ManifestChange.objects.exists() and gate_folders() <= before


def test_an_oversized_upload_gets_413_from_the_api_before_its_body_is_read(
    site, operator_token, client, small_limit
):
    response = client.post(
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(os.urandom(2 << 20))},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 413
    assert response.json() == {"error": "The upload is larger than the 1,024 bytes limit.", "errors": []}
    assert not ManifestChange.objects.exists()


def test_a_view_that_takes_no_upload_takes_no_large_body(personas, site, settings):
    settings.FILE_UPLOAD_HANDLERS = UNREAD
    response = personas.client("admin").post(
        reverse("change-submit-folder", args=[site.slug]), {"archive": upload(os.urandom(3 << 20))}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "The request body is larger than the 2.5 MiB this address takes."


def asgi(scope_path: str, chunks: list[bytes], length: int | None) -> tuple[list[dict], list[dict]]:
    """Run BodySizeLimit around an app that reads the whole body; (what it sent, what the app received)."""
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    scope = {"type": "http", "method": "POST", "path": scope_path, "root_path": "", "headers": headers}
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict] = []
    received: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        while True:
            received.append(await receive())
            if received[-1]["type"] == "http.disconnect" or not received[-1].get("more_body"):
                return

    asyncio.run(BodySizeLimit(app)(scope, receive, send))
    return sent, received


def test_the_asgi_wrapper_refuses_by_content_length_before_django_reads(site, small_limit):
    path = reverse("api-site-check", args=[site.slug])
    sent, received = asgi(path, [b"x" * 10], length=10 << 20)
    assert received == [] and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "The upload is larger than the 1,024 bytes limit."


def test_the_asgi_wrapper_cuts_a_body_without_length_at_the_limit(site, small_limit):
    path = reverse("api-site-check", args=[site.slug])
    sent, received = asgi(path, [bytes(1 << 20)] * 3, length=None)
    assert sent[0]["status"] == 413
    assert [event["type"] for event in received] == ["http.request", "http.disconnect"]


def test_the_asgi_wrapper_lets_a_body_within_the_limit_through(site, small_limit):
    sent, received = asgi(reverse("api-site-check", args=[site.slug]), [b"ab", b"cd"], length=4)
    assert sent == [] and b"".join(event["body"] for event in received) == b"abcd"


def test_the_asgi_application_is_wrapped():
    from panel.asgi import application

    assert isinstance(application, BodySizeLimit)
