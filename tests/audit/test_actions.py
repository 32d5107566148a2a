"""Each audited action leaves exactly one event with the right fields (table-driven).

Every case runs the action the way a person would (the login form, the CRUD pages, the users
page) and then reads the events written since a mark."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from clusters.models import Cluster, Domain
from panel.crypto import MASK
from panel.users import service
from tests import factories
from tests.audit.helpers import as_text, mark, since
from tests.personas import NAMES, PASSWORD
from tests.test_crud import SITE_FORM

pytestmark = pytest.mark.django_db

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
WRONG = "not-the-password-42"
NEW_PASSWORD = "a fresh long passphrase 7"
Do = Callable[[Any, dict], Any]
JOB_PK = 4242


def _nothing(personas: Any, world: dict) -> None:
    return None


@dataclass
class Case:
    name: str
    action: str
    do: Do
    actor: str
    role: str
    target: tuple[str, str]  # (type, name)
    site: str = ""
    cluster: str = ""
    before: dict | None = None  # expected subset; {} means "must be empty or None"
    after: dict | None = None
    detail: str = ""  # expected substring
    also: tuple[str, ...] = ()  # other events the same step writes
    setup: Do = _nothing
    secrets: tuple[str, ...] = ()  # must appear nowhere in the event
    job: int | None = None  # the job the event links to


def post(role: str, url: Any, data: Any = None, **headers: Any) -> Do:
    """POST as `role`; url and data may be callables (resolved once the world exists)."""

    def run(personas: Any, world: dict) -> Any:
        form = data(world) if callable(data) else data or {}
        response = personas.client(role).post(url() if callable(url) else url, form, **headers)
        assert response.status_code in (200, 204, 302), response.content.decode()[:500]
        return response

    return run


def get(role: str, url: Any) -> Do:
    """GET as `role` (a sensitive read); the body is read to the end, as a browser would."""

    def run(personas: Any, world: dict) -> Any:
        response = personas.client(role).get(url() if callable(url) else url)
        assert response.status_code == 200, response.status_code
        return b"".join(response.streaming_content) if response.streaming else response.content

    return run


def make_job(personas: Any, world: dict) -> None:
    factories.job(world["site"], pk=JOB_PK, state="succeeded")


def login(password: str) -> Do:
    def run(personas: Any, world: dict) -> Any:
        return Client().post(reverse("login"), {"username": "bob", "password": password})

    return run


def fail_login_times(n: int) -> Do:
    def run(personas: Any, world: dict) -> None:
        for _ in range(n):
            Client().post(reverse("login"), {"username": "bob", "password": WRONG})

    return run


def make_cluster(name: str) -> Do:
    return lambda personas, world: factories.cluster(name=name)


def deactivate_erin(personas: Any, world: dict) -> None:
    service.set_active(world["erin"], False, actor="setup")


def url_for(name: str, *args: Any) -> Callable[[], str]:
    return lambda: reverse(name, args=[a() if callable(a) else a for a in args])


def pk_of(model: Any, **lookup: Any) -> Callable[[], int]:
    return lambda: model.objects.get(**lookup).pk


def erin_pk() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="erin").pk


CLUSTER_FORM = {"name": "staging", "endpoint": "unix:///var/run/docker.sock", "tls_ca": "", "tls_cert": ""}
TLS_FORM = {
    "name": "prod",
    "endpoint": "tcp://manager.example.com:2376",
    "tls_ca": "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----",
    "tls_cert": "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----",
    "tls_key": PEM,
}

CASES = [
    Case("login", "auth.login", login(PASSWORD), "bob", "operator", ("user", "bob")),
    Case(
        "failed login",
        "auth.login_failed",
        login(WRONG),
        "anonymous",
        "",
        ("user", "bob"),
        secrets=(WRONG,),
    ),
    Case("logout", "auth.logout", post("operator", "/logout/"), "bob", "operator", ("user", "bob")),
    Case(
        "lockout",
        "auth.lockout",
        fail_login_times(1),
        "anonymous",
        "",
        ("user", "bob"),
        setup=fail_login_times(4),
        also=("auth.login_failed",),
        detail="5 failed logins from 127.0.0.1",
        secrets=(WRONG,),
    ),
    Case(
        "cluster create",
        "cluster.create",
        post("admin", "/clusters/new/", {**CLUSTER_FORM, "tls_key": ""}),
        "dave",
        "admin",
        ("cluster", "staging"),
        cluster="staging",
        before={},
        after={"name": "staging", "endpoint": "unix:///var/run/docker.sock", "tls_key": ""},
    ),
    Case(
        "cluster edit (secret masked)",
        "cluster.edit",
        post("admin", url_for("cluster-edit", pk_of(Cluster, name="prod")), TLS_FORM),
        "dave",
        "admin",
        ("cluster", "prod"),
        cluster="prod",
        before={"endpoint": "unix:///var/run/docker.sock", "tls_key": ""},
        after={"endpoint": "tcp://manager.example.com:2376", "tls_key": MASK},
        secrets=("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",),
    ),
    Case(
        "cluster delete",
        "cluster.delete",
        post("admin", url_for("cluster-delete", pk_of(Cluster, name="old"))),
        "dave",
        "admin",
        ("cluster", "old"),
        cluster="old",
        setup=make_cluster("old"),
        before={"name": "old"},
    ),
    Case(
        "site create",
        "site.create",
        post("operator", "/sites/new/", lambda w: {**SITE_FORM, "slug": "beta", "cluster": w["cluster"].pk}),
        "bob",
        "operator",
        ("site", "beta"),
        site="beta",
        cluster="prod",
        after={"slug": "beta", "cluster": "prod", "replicas": 2, "db_password": MASK},
    ),
    Case(
        "site edit",
        "site.edit",
        post(
            "operator",
            "/sites/acme/edit/",
            lambda w: {**SITE_FORM, "replicas": 4, "cluster": w["cluster"].pk},
        ),
        "bob",
        "operator",
        ("site", "acme"),
        site="acme",
        cluster="prod",
        before={"replicas": 2},
        after={"replicas": 4},
    ),
    Case(
        "site delete",
        "site.delete",
        post("admin", "/sites/acme/delete/"),
        "dave",
        "admin",
        ("site", "acme"),
        site="acme",
        cluster="prod",
        before={"slug": "acme", "db_password": MASK},
        detail="also deleted: 1 domain",
    ),
    Case(
        "domain create (page)",
        "domain.create",
        post("operator", "/sites/acme/domains/new/", {"name": "new.example.com"}),
        "bob",
        "operator",
        ("domain", "new.example.com"),
        site="acme",
        cluster="prod",
        after={"name": "new.example.com", "site": "acme"},
    ),
    Case(
        "domain create (htmx)",
        "domain.create",
        post("operator", "/sites/acme/domains/new/", {"name": "Hx.Example.com"}, HTTP_HX_REQUEST="true"),
        "bob",
        "operator",
        ("domain", "hx.example.com"),
        site="acme",
        cluster="prod",
        after={"name": "hx.example.com"},
    ),
    Case(
        "domain edit",
        "domain.edit",
        post(
            "operator",
            url_for("domain-edit", pk_of(Domain, name="shop.example.com")),
            {"name": "shop2.example.com"},
        ),
        "bob",
        "operator",
        ("domain", "shop2.example.com"),
        site="acme",
        cluster="prod",
        before={"name": "shop.example.com"},
        after={"name": "shop2.example.com"},
    ),
    Case(
        "domain delete",
        "domain.delete",
        post("operator", url_for("domain-delete", pk_of(Domain, name="shop.example.com"))),
        "bob",
        "operator",
        ("domain", "shop.example.com"),
        site="acme",
        cluster="prod",
        before={"name": "shop.example.com", "site": "acme"},
    ),
    Case(
        "job log download",
        "job.log_download",
        get("viewer", url_for("job-log-download", JOB_PK)),
        "alice",
        "viewer",
        ("job", f"Deploy acme #{JOB_PK}"),
        site="acme",
        cluster="prod",
        detail=f"job-{JOB_PK}-deploy-acme.log",
        setup=make_job,
        job=JOB_PK,
    ),
    Case(
        "user create",
        "user.create",
        post(
            "admin",
            "/users/new/",
            {"username": "frank", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "role": "operator"},
        ),
        "dave",
        "admin",
        ("user", "frank"),
        before={},
        after={"username": "frank", "role": "operator", "is_active": True},
        secrets=(NEW_PASSWORD,),
    ),
    Case(
        "user role change",
        "user.role",
        post("admin", url_for("user-role", erin_pk), {"role": "approver"}),
        "dave",
        "admin",
        ("user", "erin"),
        before={"role": "viewer"},
        after={"role": "approver"},
    ),
    Case(
        "user deactivate",
        "user.deactivate",
        post("admin", url_for("user-active", erin_pk), {"active": "0"}),
        "dave",
        "admin",
        ("user", "erin"),
        before={"is_active": True},
        after={"is_active": False},
    ),
    Case(
        "user reactivate",
        "user.reactivate",
        post("admin", url_for("user-active", erin_pk), {"active": "1"}),
        "dave",
        "admin",
        ("user", "erin"),
        setup=deactivate_erin,
        before={"is_active": False},
        after={"is_active": True},
    ),
]


def _subset(expected: dict | None, actual: dict | None, side: str) -> None:
    if expected is None:
        return
    if expected == {}:
        assert not actual, f"{side} should be empty, got {actual}"
        return
    assert actual is not None, f"{side} is missing"
    for key, value in expected.items():
        assert actual.get(key) == value, f"{side}[{key!r}] = {actual.get(key)!r}, expected {value!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_action_leaves_exactly_one_event(case: Case, personas: Any, world: dict) -> None:
    case.setup(personas, world)
    start = mark()
    case.do(personas, world)
    events = since(start)
    assert sorted(e.action for e in events) == sorted([case.action, *case.also]), [e.action for e in events]
    (event,) = [e for e in events if e.action == case.action]

    assert event.actor_username == case.actor
    assert event.actor_role == case.role
    if case.actor in NAMES.values():
        assert event.actor_user_id == personas.users[case.role].pk
    else:
        assert event.actor_user_id is None
    assert (event.target_type, event.target_name) == case.target
    assert event.site_slug == case.site
    assert event.cluster_name == case.cluster
    assert case.detail in event.detail
    assert event.job_id == case.job
    _subset(case.before, event.before, "before")
    _subset(case.after, event.after, "after")
    # Where the click came from: every event made by a request carries its id and address.
    assert len(event.request_id) == 32 and event.client_address == "127.0.0.1"
    assert event.prev_hash and len(event.hash) == 64
    text = as_text(event)
    for secret in (PASSWORD, *case.secrets):
        assert secret not in text
    assert "password" not in (event.detail or "").lower() or "wrong username or password" in event.detail
