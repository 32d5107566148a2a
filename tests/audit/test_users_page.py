"""The users page: admins add users, change roles, deactivate and reactivate; never below one
active admin; the command line goes through the same rules and is audited too."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from panel.roles import role_of
from panel.users import service
from tests import factories
from tests.audit.helpers import mark, since
from tests.personas import PASSWORD

pytestmark = pytest.mark.django_db
GOOD = "a fresh long passphrase 7"


def test_list_shows_roles_and_status(personas, world):  # type: ignore[no-untyped-def]
    service.set_active(world["erin"], False, actor="setup")
    html = personas.client("admin").get(reverse("user-list")).content.decode()
    for name, role in [("alice", "viewer"), ("bob", "operator"), ("carol", "approver"), ("dave", "admin")]:
        assert (
            f'<option value="{role}" selected>'
            in html.split(f'id="user-{personas.users[role].pk}"')[1].split("</tr>")[0]
        )
        assert name in html
    assert "inactive" in html.split(f'id="user-{world["erin"].pk}"')[1].split("</tr>")[0]


def test_list_costs_the_same_for_many_users(personas, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    for n in range(30):
        factories.user(f"u{n:02}", role="operator")
    client = personas.client("admin")
    client.get(reverse("user-list"))
    with django_assert_max_num_queries(8):
        client.get(reverse("user-list"))


def test_create_checks_the_password(personas):  # type: ignore[no-untyped-def]
    client = personas.client("admin")
    form = {"username": "frank", "password1": GOOD, "password2": GOOD + "x", "role": "operator"}
    response = client.post(reverse("user-create"), form)
    assert response.status_code == 400 and "didn’t match" in response.content.decode()
    response = client.post(reverse("user-create"), {**form, "password1": "short", "password2": "short"})
    assert response.status_code == 400 and "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="frank").exists()
    response = client.post(reverse("user-create"), {**form, "password2": GOOD})
    assert response.status_code == 302
    frank = get_user_model().objects.get(username="frank")
    assert role_of(frank) == "operator" and Client().login(username="frank", password=GOOD)


def test_a_deactivated_user_is_out_at_the_next_request(personas):  # type: ignore[no-untyped-def]
    bob = personas.client("operator")
    assert bob.get("/").status_code == 200
    personas.client("admin").post(
        reverse("user-active", args=[personas.users["operator"].pk]), {"active": "0"}
    )
    assert bob.get("/").status_code == 302
    assert not Client().login(username="bob", password=PASSWORD)


def test_the_last_admin_cannot_demote_or_deactivate_themselves(personas):  # type: ignore[no-untyped-def]
    dave = personas.users["admin"]
    client = personas.client("admin")
    start = mark()
    for url, data in [
        (reverse("user-role", args=[dave.pk]), {"role": "viewer"}),
        (reverse("user-active", args=[dave.pk]), {"active": "0"}),
    ]:
        response = client.post(url, data, follow=True)
        assert "dave is the last active admin; make someone else an admin first." in response.content.decode()
    dave.refresh_from_db()
    assert dave.is_active and role_of(dave) == "admin" and since(start) == []


def test_with_a_second_admin_they_can(personas):  # type: ignore[no-untyped-def]
    factories.user("erika", role="admin")
    dave = personas.users["admin"]
    response = personas.client("admin").post(reverse("user-role", args=[dave.pk]), {"role": "operator"})
    assert response.status_code == 302
    dave = get_user_model().objects.get(pk=dave.pk)
    assert role_of(dave) == "operator"


def test_an_inactive_admin_does_not_count(personas):  # type: ignore[no-untyped-def]
    other = factories.user("erika", role="admin")
    service.set_active(other, False, actor="setup")
    with pytest.raises(service.LastAdminError):
        service.set_active(personas.users["admin"], False, actor="setup")


def test_a_superuser_demoted_loses_the_superpower(db):  # type: ignore[no-untyped-def]
    root = get_user_model().objects.create_superuser("root", password=GOOD)
    factories.user("erika", role="admin")
    assert service.change_role(root, "viewer", actor="setup")
    root = get_user_model().objects.get(pk=root.pk)
    assert not root.is_superuser and role_of(root) == "viewer"


def test_no_change_no_event(personas, world):  # type: ignore[no-untyped-def]
    start = mark()
    client = personas.client("admin")
    client.post(reverse("user-role", args=[world["erin"].pk]), {"role": "viewer"})
    client.post(reverse("user-active", args=[world["erin"].pk]), {"active": "1"})
    assert since(start) == []


def test_bad_input_is_refused(personas, world):  # type: ignore[no-untyped-def]
    client = personas.client("admin")
    assert client.post(reverse("user-role", args=[world["erin"].pk]), {"role": "god"}).status_code == 400
    assert (
        client.post(reverse("user-active", args=[world["erin"].pk]), {"active": "maybe"}).status_code == 400
    )
    assert client.get(reverse("user-role", args=[world["erin"].pk])).status_code == 405


def test_command_line_is_audited_and_guarded(personas, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PANEL_NEW_PASSWORD", GOOD)
    start = mark()
    call_command("users", "add", "gina", "--role", "approver", stdout=io.StringIO())
    call_command("users", "role", "gina", "operator", stdout=io.StringIO())
    with pytest.raises(CommandError, match="last active admin"):
        call_command("users", "role", "dave", "viewer", stdout=io.StringIO())
    events = since(start)
    assert [e.action for e in events] == ["user.create", "user.role"]
    assert all(e.actor_username.startswith("cli:") and e.actor_role == "cli" for e in events)
    assert events[1].before == {"role": "approver"} and events[1].after == {"role": "operator"}
