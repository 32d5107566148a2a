"""Every request has an id: the proxy's if it is sane, a fresh one otherwise; events carry it."""

import pytest
from django.urls import reverse

from tests.audit.helpers import mark, since
from tests.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_fresh_id_is_sent_back(client):  # type: ignore[no-untyped-def]
    first = client.get(reverse("healthz"))["X-Request-ID"]
    second = client.get(reverse("healthz"))["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123_proxy.1:2@x", True),
        ("f" * 64, True),
        ("f" * 65, False),
        ("has space", False),
        ("line\nbreak", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_sane_ids_are_honoured(client, sent, kept):  # type: ignore[no-untyped-def]
    got = client.get(reverse("healthz"), HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    assert (got == sent) is kept
    if not kept:
        assert len(got) == 32


def test_redirects_and_errors_carry_the_id(client):  # type: ignore[no-untyped-def]
    assert client.get("/", HTTP_X_REQUEST_ID="trace-1")["X-Request-ID"] == "trace-1"  # login redirect


def test_the_event_carries_the_request_id(client, personas):  # type: ignore[no-untyped-def]
    start = mark()
    client.post(reverse("login"), {"username": "bob", "password": PASSWORD}, HTTP_X_REQUEST_ID="from-proxy-7")
    (event,) = since(start)
    assert (event.action, event.request_id) == ("auth.login", "from-proxy-7")
