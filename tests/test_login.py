"""Login, logout and brute-force protection."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):  # type: ignore[no-untyped-def]
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_htmx_request_with_expired_session_redirects_the_page(client):  # type: ignore[no-untyped-def]
    response = client.get(reverse("site-list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith("/login/")


def test_login_and_lockout(client, personas):  # type: ignore[no-untyped-def]
    from tests.personas import PASSWORD

    for _ in range(5):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
        assert "Please enter a correct username and password" in response.content.decode()
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_good_login(client, personas):  # type: ignore[no-untyped-def]
    from tests.personas import PASSWORD

    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
