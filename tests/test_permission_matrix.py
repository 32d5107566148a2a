"""Every URL x every role, anonymous included. Viewers can change nothing."""

import pytest
from django.urls import reverse

from clusters.approvals import tokens
from clusters.approvals.models import ManifestChange
from clusters.models import Backup, Cluster, Domain, Site
from tests import factories
from tests.permissions import PUBLIC, all_patterns, allowed, required_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas):  # type: ignore[no-untyped-def]
    c = factories.cluster(name="prod")
    s = factories.site(c, slug="acme")
    d = factories.domain(s, "shop.example.com")
    u = factories.user("erin", role="viewer")
    j = factories.job(s, state="succeeded")  # finished: its event stream ends at once
    b = Backup.objects.create(site=s, filename="acme-1.dump", size_bytes=10)
    ch = change_for(s, personas.users["operator"])
    t, _ = tokens.create(u, "erin's CI")
    return {
        "pk": c.pk,
        "slug": s.slug,
        "domain_pk": d.pk,
        "user_pk": u.pk,
        "job_id": j.pk,
        "backup_id": b.pk,
        "change_id": ch.pk,
        "token_id": t.pk,
    }


def change_for(site, user):  # type: ignore[no-untyped-def]
    """A pending manifest change with an empty verdict: enough for every change URL to answer."""
    verdict = {
        "series": "17.0",
        "passes": True,
        "installed_snapshot": {"source": f"site:{site.slug}", "read_at": None, "count": 0},
        "addons_paths": ["addons"],
        "blocked": [],
        "blast_radius": [],
        "warnings": [],
        "addons": {},
    }
    return ManifestChange.objects.create(
        site=site,
        state="pending",
        source="api",
        source_name="addons.zip",
        series="17.0",
        passes=True,
        verdict=verdict,
        submitted_by=user,
        submitted_by_name=user.get_username(),
    )


def kwargs_for(pattern, world):  # type: ignore[no-untyped-def]
    names = pattern.pattern.regex.groupindex
    kw = {}
    for name in names:
        if name == "slug":
            kw["slug"] = world["slug"]
        elif name in ("job_id", "backup_id", "change_id", "token_id"):
            kw[name] = world[name]
        elif name == "pk" and (pattern.name or "").startswith("user-"):
            kw["pk"] = world["user_pk"]
        elif name == "pk":
            kw["pk"] = world["domain_pk"] if "domain" in (pattern.name or "") else world["pk"]
        else:
            raise AssertionError(f"the matrix does not know how to fill <{name}> of {pattern.name}")
    return kw


def named_patterns():  # type: ignore[no-untyped-def]
    return [p for _, p in all_patterns() if p.name]


def test_every_url_declares_a_role():
    undeclared = [p.name for p in named_patterns() if p.name not in PUBLIC and not required_action(p)]
    assert undeclared == [], "every view needs @requires(action) from panel.roles"


@pytest.mark.parametrize("role", [None, "viewer", "operator", "approver", "admin"])
def test_matrix(role, personas, world):  # type: ignore[no-untyped-def]
    client = personas.client(role)
    for pattern in named_patterns():
        if pattern.name in PUBLIC:
            continue
        url = reverse(pattern.name, kwargs=kwargs_for(pattern, world))
        action = required_action(pattern)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            where = f"{method.upper()} {url} as {role or 'anonymous'}"
            if role is None and url.startswith("/api/"):  # token clients get 401, not a login page
                assert response.status_code == 401, where
            elif role is None:
                assert response.status_code == 302 and "/login/" in response["Location"], where
            elif allowed(role, action):
                assert response.status_code != 403, where
            else:
                assert response.status_code == 403, where


def test_viewer_changes_nothing(personas, world):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    before = (
        Cluster.objects.count(),
        Site.objects.count(),
        Domain.objects.count(),
        list(Site.objects.values_list("replicas", "image")),
        list(ManifestChange.objects.values_list("pk", "state")),
    )
    for pattern in named_patterns():
        if pattern.name in PUBLIC:
            continue
        url = reverse(pattern.name, kwargs=kwargs_for(pattern, world))
        client.post(url, {"name": "x.example.com", "replicas": 5, "image": "evil:1", "slug": "evil"})
    after = (
        Cluster.objects.count(),
        Site.objects.count(),
        Domain.objects.count(),
        list(Site.objects.values_list("replicas", "image")),
        list(ManifestChange.objects.values_list("pk", "state")),
    )
    assert before == after


def test_public_urls_need_no_login(client, db):  # type: ignore[no-untyped-def]
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).json() == {"status": "pass"}


def test_csrf_enforced_on_forms(personas, world):  # type: ignore[no-untyped-def]
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(personas.users["admin"])
    response = strict.post(reverse("domain-create", args=["acme"]), {"name": "new.example.com"})
    assert response.status_code == 403
    assert not Domain.objects.filter(name="new.example.com").exists()
    page = strict.get(reverse("site-detail", args=["acme"])).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page  # htmx requests carry the token
