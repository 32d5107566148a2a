"""API tokens expire, carry a scope (check, or submit and check) and may be bound to one site; their
power is the intersection of that scope with the user's role at the time of each request."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.approvals import tokens
from clusters.approvals.models import ApiToken, ManifestChange
from panel.models import AuditEvent
from panel.roles import assign_role
from tests import factories
from tests.changes.conftest import small_zip, upload
from tests.commands import run

pytestmark = pytest.mark.django_db


def call(url: str, secret: str, data: dict | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {secret}"}
    if data is None:
        return Client().get(url, headers=headers)
    return Client().post(url, data, headers=headers)


def archive() -> dict:
    return {"archive": upload(small_zip(["base", "web"]))}


def urls(slug: str) -> tuple[str, str]:
    return reverse("api-site-check", args=[slug]), reverse("api-change-submit", args=[slug])


@pytest.fixture
def beta(site):  # type: ignore[no-untyped-def]
    """A second site with its modules read, like acme."""
    return factories.site(
        site.cluster,
        slug="beta",
        series="17.0",
        installed_modules=site.installed_modules,
        module_depends=site.module_depends,
        modules_read_at=site.modules_read_at,
    )


def test_an_expired_token_is_401_with_its_date_through_the_real_views(personas, site):
    token, secret = tokens.create(personas.users["operator"], "ci", scope="submit")
    ended = timezone.now() - timedelta(hours=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=ended)
    check, submit = urls(site.slug)
    for url in (check, submit):
        response = call(url, secret, archive())
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"].startswith(f"token expired on {ended:%Y-%m-%d}")
    assert call(reverse("api-change-detail", args=[1]), secret).status_code == 401
    assert tokens.authenticate(secret) is None and not ManifestChange.objects.exists()


def test_a_check_token_checks_but_cannot_submit(personas, site):
    _, secret = tokens.create(personas.users["admin"], "pre-merge", scope="check")
    check, submit = urls(site.slug)
    assert call(check, secret, archive()).status_code == 200
    assert call(submit + "?dry_run=1", secret, archive()).status_code == 200  # a dry run is a check
    refused = call(submit, secret, archive())
    assert refused.status_code == 403 and "scope is 'check'" in refused.json()["error"]
    assert not ManifestChange.objects.exists()
    _, full = tokens.create(personas.users["admin"], "merge", scope="submit")
    created = call(submit, full, archive())
    assert created.status_code == 201
    detail = reverse("api-change-detail", args=[created.json()["change"]["id"]])
    assert call(detail, secret).status_code == 200  # reading a change is read-only


def test_a_site_bound_token_is_refused_for_another_site(personas, site, beta, make_change):
    _, secret = tokens.create(personas.users["operator"], "acme CI", scope="submit", site=site)
    for url in urls(beta.slug):
        refused = call(url, secret, archive())
        assert refused.status_code == 403 and "bound to site acme" in refused.json()["error"]
    assert call(urls("nope")[0], secret, {}).status_code == 403  # no hint whether a site exists
    assert not ManifestChange.objects.exists()
    assert call(urls(site.slug)[1], secret, archive()).status_code == 201
    elsewhere = make_change(personas.users["operator"], target=beta)
    assert call(reverse("api-change-detail", args=[elsewhere.pk]), secret).status_code == 403
    _, anywhere = tokens.create(personas.users["operator"], "all sites", scope="submit")
    assert call(urls(beta.slug)[0], anywhere, archive()).status_code == 200


def test_the_token_has_the_intersection_of_its_scope_and_the_users_current_role(personas, site):
    bob = personas.users["operator"]
    _, secret = tokens.create(bob, "ci", scope="submit")
    check, submit = urls(site.slug)
    assert call(submit, secret, archive()).status_code == 201
    assign_role(bob, "viewer")  # demoted: the token loses submit and check with him
    for url in (check, submit):
        refused = call(url, secret, archive())
        assert refused.status_code == 403 and "operate" in refused.json()["error"]
    change = ManifestChange.objects.get()
    assert call(reverse("api-change-detail", args=[change.pk]), secret).status_code == 200
    _, viewers = tokens.create(personas.users["viewer"], "dashboard", scope="submit")
    assert call(submit, viewers, archive()).status_code == 403  # a scope never adds to the role
    assert ManifestChange.objects.count() == 1


def test_creation_defaults_and_limits(personas, site):
    bob = personas.users["operator"]
    token, _ = tokens.create(bob, "ci")
    assert (token.scope, token.site) == ("check", None)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    for bad in (timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(days=366)):
        with pytest.raises(ValueError, match="expiry"):
            tokens.create(bob, "bad", expires_at=bad)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert not tokens.no_room(bob)
    assert ApiToken.objects.count() == 1


def test_the_page_creates_lists_and_audits_scope_site_and_expiry(personas, site):
    client = personas.client("operator")
    on = timezone.localdate() + timedelta(days=30)
    data = {"name": "acme CI", "scope": "submit", "site": "acme", "expires_on": on.isoformat()}
    response = client.post(reverse("token-list"), data)
    assert response.status_code == 200, response.content.decode()[:2000]
    token = ApiToken.objects.get()
    assert (token.scope, token.site, timezone.localtime(token.expires_at).date()) == ("submit", site, on)
    event = AuditEvent.objects.get(action="api_token.create")
    assert event.after["scope"] == "submit" and event.after["site"] == "acme"
    assert event.after["expires_at"].startswith(on.isoformat())
    assert response.context["secret"] not in json.dumps(event.after)
    for bad in (
        {"name": "x", "expires_in_days": "366"},
        {"name": "x", "expires_in_days": "0"},
        {"name": "x", "expires_in_days": "10", "expires_on": on.isoformat()},
        {"name": "x", "expires_on": timezone.localdate().isoformat()},
        {"name": "x", "scope": "admin"},
        {"name": "x", "site": "nope"},
    ):
        assert client.post(reverse("token-list"), bad).status_code == 400, bad
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    page = client.get(reverse("token-list")).content.decode()
    assert "submit" in page and "acme" in page and "expired" in page


def test_the_command_takes_scope_site_and_expiry(personas, site):
    code, out, _ = run(
        "token", "--as", "bob", "create", "acme CI", "--scope", "submit", "--site", "acme",
        "--expires-in-days", "30", "--json",
    )  # fmt: skip
    assert code == 0, out
    answer = json.loads(out)
    token = ApiToken.objects.get()
    assert (answer["scope"], answer["site"], token.scope, token.site) == ("submit", "acme", "submit", site)
    assert datetime.fromisoformat(answer["expires_at"]) == token.expires_at
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    code, out, _ = run("token", "--as", "bob", "create", "plain", "--json")
    plain = json.loads(out)
    assert (plain["scope"], plain["site"]) == ("check", None)
    on = (timezone.localdate() + timedelta(days=7)).isoformat()
    code, out, _ = run("token", "--as", "bob", "create", "dated", "--expires-on", on, "--json")
    assert code == 0 and json.loads(out)["expires_at"].startswith(on)
    for args in (
        ("--expires-in-days", "366"),
        ("--expires-in-days", "10", "--expires-on", on),
        ("--site", "nope"),
        ("--scope", "admin"),
    ):
        code, _, message = run("token", "--as", "bob", "create", "bad", *args)
        assert code == 2, (args, message)
    assert ApiToken.objects.count() == 3
    code, out, _ = run("token", "list", "--user", "bob", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["acme CI"]["scope"] == "submit" and rows["acme CI"]["site"] == "acme"
    assert rows["acme CI"]["expired"] is False and rows["plain"]["expires_at"] == plain["expires_at"]
