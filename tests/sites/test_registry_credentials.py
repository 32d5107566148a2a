"""A site's registry credentials go to the registry they were entered for, and to no other (issue 17).

What is sent is read at the engine's edge: a fake client records the auth_config of every
get_registry_data call, the one call through which the panel hands credentials to an engine (the
preflight page's digest resolution, the deploy's "Resolve image"). The site's credentials are
entered the way an operator does (`site edit`), for registry-a.example:5000; its image is then moved
to registry-b.example behind the form's back (as a row saved before the fix may be).

New names are imported inside the tests that need them, so that on the code before the fix the
other tests fail on what they check (credentials sent, a move accepted), not on an import."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from docker.errors import APIError

from clusters import engine
from clusters.forms import SiteForm
from clusters.models import Site
from panel.cli import form_data
from panel.crypto import reveal
from panel.models import AuditEvent
from tests import factories
from tests.sites.jobrun import log_text, run_inline

pytestmark = pytest.mark.django_db

ON_A = "registry-a.example:5000/odoo:17.0"
ON_B = "registry-b.example/x:1"
SECRET = "s3cret-for-a"
ENTERED = {"registry_username": "robot", "registry_password": SECRET}
SENT_FOR_A = {"username": "robot", "password": SECRET}


class FakeEngine:
    """The engine calls preflight and deploy make, with no cluster behind them; every registry
    request is recorded with the auth it carried, and refused as unauthorized when `refuse`."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.refuse = refuse
        self.images = SimpleNamespace(get_registry_data=self._registry_data)
        self.services = SimpleNamespace(list=lambda **_: [])
        self.networks = SimpleNamespace(list=lambda **_: [])
        self.nodes = SimpleNamespace(list=lambda **_: [])

    def _registry_data(self, image: str, auth_config: Any = None) -> Any:
        self.sent.append((image, auth_config))
        if self.refuse:
            raise APIError("unauthorized: authentication required")
        return SimpleNamespace(id="sha256:" + "c" * 64)


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()

    @contextlib.contextmanager
    def client_for(cluster: Any, timeout: int = 0) -> Iterator[FakeEngine]:
        yield fake

    monkeypatch.setattr(engine, "client_for", client_for)
    return fake


def run(*args: str) -> tuple[int, str]:
    """(exit code, stdout or the error message) of `manage.py ARGS`."""
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def site_with_credentials(image: str = ON_A) -> Site:
    """A site whose credentials were entered (with `site edit`, as the page's form) for `image`."""
    site = factories.site(factories.cluster(), image=image)
    code, out = run(
        "site", "edit", site.slug, "--set", "registry_username=robot", "--set", f"registry_password={SECRET}"
    )
    assert code == 0, out
    return Site.objects.get(pk=site.pk)


def stored(site: Site) -> tuple[str, str, str, str]:
    """The image and the credentials as saved: (image, username, password, registry)."""
    row = Site.objects.get(pk=site.pk)
    return row.image, row.registry_username, reveal(row.registry_password), row.registry_host


def moved_to(site: Site, image: str) -> Site:
    Site.objects.filter(pk=site.pk).update(image=image)
    return Site.objects.get(pk=site.pk)


# -- what reaches the engine -----------------------------------------------------------------------


def test_a_viewers_preflight_sends_no_credentials_to_another_registry(fake_engine, personas) -> None:  # type: ignore[no-untyped-def]
    site = moved_to(site_with_credentials(), ON_B)
    page = personas.client("viewer").get(reverse("site-preflight", kwargs={"slug": site.slug}))
    assert page.status_code == 200
    assert fake_engine.sent == [(ON_B, None)]
    text = page.content.decode()
    assert "credentials are for registry-a.example:5000; the image is on registry-b.example" in text
    assert SECRET not in text


def test_a_failed_resolution_says_the_credentials_were_not_sent(fake_engine, personas) -> None:  # type: ignore[no-untyped-def]
    fake_engine.refuse = True
    site = moved_to(site_with_credentials(), ON_B)
    page = personas.client("viewer").get(reverse("site-preflight", kwargs={"slug": site.slug}))
    assert fake_engine.sent == [(ON_B, None)]
    text = page.content.decode()
    assert "unauthorized" in text and "Re-enter them for registry-b.example" in text


def test_the_preflight_sends_the_credentials_to_their_own_registry(fake_engine, personas) -> None:  # type: ignore[no-untyped-def]
    site = site_with_credentials()
    personas.client("viewer").get(reverse("site-preflight", kwargs={"slug": site.slug}))
    assert fake_engine.sent == [(ON_A, SENT_FOR_A)]


def test_docker_hub_is_one_registry_under_each_of_its_names(fake_engine, personas) -> None:  # type: ignore[no-untyped-def]
    site = moved_to(site_with_credentials("odoo:17.0"), "index.docker.io/library/odoo:17.0")
    personas.client("viewer").get(reverse("site-preflight", kwargs={"slug": site.slug}))
    assert fake_engine.sent == [("index.docker.io/library/odoo:17.0", SENT_FOR_A)]


def test_the_deploy_sends_no_credentials_to_another_registry(fake_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake_engine.refuse = True  # the job ends at "Resolve image": what it sent is all this test reads
    site = moved_to(site_with_credentials(), ON_B)
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "failed"
    assert fake_engine.sent == [(ON_B, None)]
    log = log_text(job)
    assert "credentials are for registry-a.example:5000; the image is on registry-b.example" in log
    assert SECRET not in log


def test_the_deploy_sends_the_credentials_to_their_own_registry(fake_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake_engine.refuse = True
    run_inline(monkeypatch, "deploy", site_with_credentials())
    assert fake_engine.sent == [(ON_A, SENT_FOR_A)]


# -- the parser and the one function every sender goes through ------------------------------------


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("odoo:17.0", "docker.io"),
        ("library/odoo", "docker.io"),
        ("acme/odoo:17.0", "docker.io"),
        ("docker.io/library/odoo:17.0", "docker.io"),
        ("index.docker.io/library/odoo:17.0", "docker.io"),
        ("registry-1.docker.io/acme/odoo:17.0", "docker.io"),
        ("Registry-A.Example:5000/odoo:17.0", "registry-a.example:5000"),
        ("registry-a.example/odoo", "registry-a.example"),
        ("localhost/odoo:17.0", "localhost"),
        ("localhost:5000/odoo", "localhost:5000"),
        ("registry:5000/odoo", "registry:5000"),
    ],
)
def test_image_registry(image: str, registry: str) -> None:
    from clusters.stack.rules import image_registry

    assert image_registry(image) == registry


def test_credentials_with_no_recorded_registry_are_sent_nowhere() -> None:
    from clusters.sites.registry_auth import credentials_mismatch, registry_auth_for

    site = factories.site(factories.cluster(), image=ON_A, **ENTERED)
    assert site.registry_host == ""  # saved around the form: fail closed
    assert registry_auth_for(site, ON_A) is None
    assert "no recorded registry" in (credentials_mismatch(site, ON_A) or "")


def test_the_migration_records_each_sites_current_registry() -> None:
    fill = importlib.import_module("clusters.migrations.0009_site_registry_host").fill_registry_host
    cluster = factories.cluster()
    with_credentials = factories.site(cluster, image=ON_A, **ENTERED)
    without = factories.site(cluster, image=ON_B)
    fill(apps, None)
    assert Site.objects.get(pk=with_credentials.pk).registry_host == "registry-a.example:5000"
    assert Site.objects.get(pk=without.pk).registry_host == ""


# -- saving: the form and `site edit` --------------------------------------------------------------


def test_moving_the_image_without_new_credentials_is_refused(fake_engine) -> None:  # type: ignore[no-untyped-def]
    site = site_with_credentials()
    before = AuditEvent.objects.count()
    code, message = run("site", "edit", site.slug, "--image", ON_B)
    assert code == 2
    assert "registry-b.example" in message and "registry-a.example:5000" in message and SECRET not in message
    assert stored(site) == (ON_A, "robot", SECRET, "registry-a.example:5000")
    assert AuditEvent.objects.count() == before


def test_the_page_form_refuses_the_move_too(personas) -> None:  # type: ignore[no-untyped-def]
    site = site_with_credentials()
    data = {**form_data(site, SiteForm, blank=("registry_password",)), "image": ON_B}
    page = personas.client("operator").post(reverse("site-edit", kwargs={"slug": site.slug}), data)
    assert page.status_code == 400
    assert "the stored registry credentials are for registry-a.example:5000" in page.content.decode()
    assert Site.objects.get(pk=site.pk).image == ON_A


def test_new_credentials_for_the_new_registry_are_recorded_and_never_logged() -> None:
    site = site_with_credentials()
    code, out = run("site", "edit", site.slug, "--image", ON_B, "--set", "registry_password=s3cret-for-b")
    assert code == 0, out
    assert stored(site) == (ON_B, "robot", "s3cret-for-b", "registry-b.example")
    event = AuditEvent.objects.filter(action="site.edit").latest("id")
    assert event.before["registry_host"] == "registry-a.example:5000"
    assert event.after["registry_host"] == "registry-b.example"
    logged = json.dumps([list(AuditEvent.objects.values_list("before", "after", "detail"))], default=str)
    assert SECRET not in logged and "s3cret-for-b" not in logged


def test_clearing_the_username_drops_the_credentials() -> None:
    site = site_with_credentials()
    code, out = run("site", "edit", site.slug, "--image", ON_B, "--set", "registry_username=")
    assert code == 0, out
    assert stored(site) == (ON_B, "", "", "")
    event = AuditEvent.objects.filter(action="site.edit").latest("id")
    assert event.after["registry_password"] == "" and event.before["registry_password"] != SECRET


@pytest.mark.parametrize(
    ("first", "then", "registry"),
    [
        (ON_A, "registry-a.example:5000/odoo:18.0", "registry-a.example:5000"),
        ("odoo:17.0", "docker.io/library/odoo:18.0", "docker.io"),
    ],
)
def test_a_new_tag_on_the_same_registry_keeps_the_credentials(first: str, then: str, registry: str) -> None:
    site = site_with_credentials(first)
    code, out = run("site", "edit", site.slug, "--image", then, "--replicas", "3")
    assert code == 0, out
    assert stored(site) == (then, "robot", SECRET, registry)


def test_a_password_needs_its_username() -> None:
    site = factories.site(factories.cluster(), image=ON_A)
    code, message = run("site", "edit", site.slug, "--set", f"registry_password={SECRET}")
    assert code == 2 and "registry_username" in message
    assert Site.objects.get(pk=site.pk).registry_password == ""
