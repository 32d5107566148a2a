"""Each audited action leaves exactly one event with the right fields (table-driven).

Every case runs the action the way a person would (the login form, the CRUD pages, the users
page, the site's buttons with their confirm pages, the change pages and the API, the tokens page)
or as the system does (the reaper), then reads the events written since a mark. Jobs are only
enqueued: no worker runs them."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.approvals import services, tokens
from clusters.approvals.intake import evaluate_archive
from clusters.approvals.models import ApiToken, ChangeSource, ManifestChange
from clusters.models import Backup, Cluster, Domain, Site
from jobs import control, reaper
from jobs.compensation import compensation
from jobs.models import Job, State
from panel.crypto import MASK
from panel.users import service
from tests import factories
from tests.audit.helpers import as_text, mark, since
from tests.changes.conftest import TRAP_ADDON, small_zip, upload
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


@compensation("test.audit_undo")
def _undo(job: Any, log: Any) -> str:
    return "undone"


@pytest.fixture(autouse=True)
def _no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)  # the job stays queued


@dataclass
class Case:
    name: str
    action: str
    do: Do
    actor: str
    role: str
    target: tuple[str, Any]  # (type, name); "{id}" in the name is the target's id, or a callable
    site: str = ""
    cluster: str = ""
    before: dict | None = None  # expected subset; {} means "must be empty or None"
    after: dict | None = None
    detail: str = ""  # expected substring
    also: tuple[str, ...] = ()  # other events the same step writes
    setup: Do = _nothing
    secrets: tuple[Any, ...] = ()  # must appear nowhere in the event; a callable gets the world
    job: Any = None  # the job the event links to (an id, or a callable once the step ran)
    web: bool = True  # made by a request: carries its id and the client's address


def job_start(name: str, do: Do, label: str, kind: str, params: Any, **kw: Any) -> Case:
    """An operator's button on acme that starts a job: one `job.start`, the job as target and link,
    its kind and params in `after` (the site's current value in `before` where the job sets one)."""
    kw.setdefault("before", {})
    kw["after"] = {"kind": kind, "params": params, **kw.get("after", {})}
    return Case(
        name,
        "job.start",
        do,
        "bob",
        "operator",
        ("job", f"{label} acme #{{id}}"),
        site="acme",
        cluster="prod",
        job=started,
        **kw,
    )


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


def steps(*dos: Do) -> Do:
    """Several requests for one action, e.g. a confirm page then its confirmation."""

    def run(personas: Any, world: dict) -> None:
        for do in dos:
            do(personas, world)

    return run


def started() -> int:
    """The job the step started: the only queued one (no worker takes it)."""
    (pk,) = Job.objects.filter(state=State.QUEUED).values_list("pk", flat=True)
    return pk


def queued_job(personas: Any, world: dict) -> None:
    factories.job(world["site"], pk=JOB_PK, state=State.QUEUED)


def dead_job(personas: Any, world: dict) -> None:
    """A running deploy whose worker died: no heartbeat for 5 minutes, one undo action owed."""
    stale = timezone.now() - timedelta(minutes=5)
    factories.job(
        world["site"],
        pk=JOB_PK,
        state=State.RUNNING,
        started_at=stale,
        heartbeat_at=stale,
        worker="w1",
        worker_pid=4242,
        compensation=[{"action": "test.audit_undo", "args": {}}],
    )


def reap(personas: Any, world: dict) -> None:
    assert reaper.reap() == [JOB_PK]


def installed(personas: Any, world: dict) -> None:
    Site.objects.filter(slug="acme").update(
        installed_modules={
            "base": ["installed", "17.0.1.0.0"],
            "web": ["installed", "17.0.1.0.0"],
            TRAP_ADDON: ["installed", "17.0.1.0.0"],
            "sale_subscription": ["uninstalled", None],
        },
        module_depends={"base": [], "web": ["base"], TRAP_ADDON: ["base", "web"]},
        modules_read_at=timezone.now(),
    )


def make_backup(personas: Any, world: dict) -> None:
    Backup.objects.create(site=world["site"], filename="acme-20260101.dump", size_bytes=1024)


def make_change(*depends: str) -> Do:
    """A change of report_xlsx submitted by bob (through the service: the row under test comes next)."""

    def run(personas: Any, world: dict) -> None:
        installed(personas, world)
        site = Site.objects.get(slug="acme")
        evaluation = evaluate_archive(site, SimpleUploadedFile("change.zip", small_zip(list(depends))))
        services.submit(
            site, evaluation, user=personas.users["operator"], source=ChangeSource.UPLOAD, title="t"
        )

    return run


def restore_params() -> dict:
    return {"backup_id": Backup.objects.get(site__slug="acme").pk}


def archive(world: dict) -> dict:
    return {"archive": upload(small_zip(["base", "web"])), "title": "xlsx fix", "action": "submit"}


def make_token(personas: Any, world: dict) -> None:
    world["secret"] = tokens.create(personas.users["operator"], "ci", scope="submit")[1]


def create_token(personas: Any, world: dict) -> None:
    response = personas.client("operator").post(reverse("token-list"), {"name": "ci"})
    assert response.status_code == 200, response.content.decode()[:500]
    world["secret"] = response.context["secret"]


def api_submit(personas: Any, world: dict) -> None:
    response = Client().post(
        reverse("api-change-submit", args=["acme"]),
        archive(world),
        headers={"Authorization": f"Bearer {world['secret']}"},
    )
    assert response.status_code == 201, response.content.decode()[:500]


def secret(world: dict) -> str:
    return str(world["secret"])


def token_name() -> str:
    return str(ApiToken.objects.get(name="ci"))


def change_pk() -> int:
    return ManifestChange.objects.get().pk


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
    job_start("deploy", post("operator", "/sites/acme/deploy/"), "Deploy", "deploy", {}),
    job_start("reconcile", post("operator", "/sites/acme/reconcile/"), "Reconcile", "reconcile", {}),
    job_start(
        "read modules",
        post("operator", "/sites/acme/modules/read/"),
        "Read modules",
        "read_modules",
        {},
        before=None,
    ),
    job_start(
        "scale (page, plan, confirm)",
        steps(
            get("operator", "/sites/acme/scale/"),
            post("operator", "/sites/acme/scale/", {"replicas": 4}),
            post("operator", "/sites/acme/scale/", {"replicas": 4, "confirm": "yes"}),
        ),
        "Scale",
        "scale",
        {"replicas": 4},
        before={"replicas": 2},
        after={"replicas": 4},
    ),
    job_start(
        "module update with backup (plan, confirm)",
        steps(
            post("operator", "/sites/acme/modules/update/", {"modules": ["web"], "backup": "on"}),
            post(
                "operator",
                "/sites/acme/modules/update/",
                {"modules": ["web"], "backup": "on", "confirm": "yes"},
            ),
        ),
        "Module update",
        "module_update",
        {"modules": ["web"], "backup": True},
        setup=installed,
    ),
    job_start(
        "back up now",
        post("operator", "/sites/acme/backups/new/"),
        "Backup",
        "backup",
        {"backup_kind": "manual"},
    ),
    job_start(
        "drill",
        post("operator", url_for("site-drill", "acme", pk_of(Backup, site__slug="acme"))),
        "Restore drill",
        "drill",
        restore_params,
        setup=make_backup,
    ),
    job_start(
        "restore (confirm page, confirm)",
        steps(
            get("operator", url_for("site-restore", "acme", pk_of(Backup, site__slug="acme"))),
            post(
                "operator",
                url_for("site-restore", "acme", pk_of(Backup, site__slug="acme")),
                {"confirm": "yes"},
            ),
        ),
        "Restore",
        "restore",
        restore_params,
        setup=make_backup,
    ),
    Case(
        "job cancel (queued)",
        "job.cancel",
        post("operator", url_for("job-cancel", JOB_PK)),
        "bob",
        "operator",
        ("job", f"Deploy acme #{JOB_PK}"),
        site="acme",
        cluster="prod",
        detail="cancelled",
        setup=queued_job,
        job=JOB_PK,
    ),
    Case(
        "reaper (stale heartbeat)",
        "job.reap",
        reap,
        "system",
        "system",
        ("job", f"Deploy acme #{JOB_PK}"),
        site="acme",
        cluster="prod",
        detail="worker died: no heartbeat since",
        also=("job.compensate",),
        setup=dead_job,
        job=JOB_PK,
        web=False,
    ),
    Case(
        "manifest submit (page)",
        "manifest.submit",
        post("operator", "/sites/acme/changes/new/", archive),
        "bob",
        "operator",
        ("manifestchange", "manifest change #{id}"),
        site="acme",
        cluster="prod",
        before={},
        after={"state": "pending", "source": "upload", "addons": [TRAP_ADDON], "blocked": []},
        detail="1 addon(s), passes",
        setup=installed,
    ),
    Case(
        "manifest submit (API token)",
        "manifest.submit",
        api_submit,
        "bob",
        "operator",
        ("manifestchange", "manifest change #{id}"),
        site="acme",
        cluster="prod",
        after={"state": "pending", "source": "api", "addons": [TRAP_ADDON]},
        setup=steps(installed, make_token),
        secrets=(secret,),
    ),
    Case(
        "manifest approve",
        "manifest.approve",
        post("approver", url_for("change-approve", change_pk), {"confirm": "yes"}),
        "carol",
        "approver",
        ("manifestchange", "manifest change #{id}"),
        site="acme",
        cluster="prod",
        before={"state": "pending"},
        after={"state": "approved"},
        setup=make_change("base", "web"),
    ),
    Case(
        "manifest reject",
        "manifest.reject",
        post("approver", url_for("change-reject", change_pk), {"confirm": "yes", "reason": "wrong branch"}),
        "carol",
        "approver",
        ("manifestchange", "manifest change #{id}"),
        site="acme",
        cluster="prod",
        before={"state": "pending"},
        after={"state": "rejected", "reason": "wrong branch"},
        detail="wrong branch",
        setup=make_change("base", "web"),
    ),
    Case(
        "manifest override",
        "manifest.override",
        post(
            "admin",
            url_for("change-override", change_pk),
            {"confirm": "yes", "reason": "sale_subscription is installed by tonight's release"},
        ),
        "dave",
        "admin",
        ("manifestchange", "manifest change #{id}"),
        site="acme",
        cluster="prod",
        before={"state": "blocked"},
        after={"state": "overridden", "reason": "sale_subscription is installed by tonight's release"},
        detail="sale_subscription is installed by tonight's release",
        setup=make_change("base", "sale_subscription"),
    ),
    Case(
        "API token create",
        "api_token.create",
        create_token,
        "bob",
        "operator",
        ("apitoken", token_name),
        before={},
        after={"name": "ci", "user": "bob"},
        secrets=(secret,),
    ),
    Case(
        "API token revoke",
        "api_token.revoke",
        post("operator", url_for("token-revoke", pk_of(ApiToken, name="ci"))),
        "bob",
        "operator",
        ("apitoken", token_name),
        before={"name": "ci", "user": "bob"},
        after={},
        setup=make_token,
        secrets=(secret,),
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
        value = value() if callable(value) else value  # known once the step ran (e.g. a row's id)
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
    kind, name = case.target
    name = name() if callable(name) else name.format(id=event.target_id)
    assert (event.target_type, event.target_name) == (kind, name)
    assert event.site_slug == case.site
    assert event.cluster_name == case.cluster
    assert case.detail in event.detail
    assert event.job_id == (case.job() if callable(case.job) else case.job)
    if event.target_type == "job":
        assert event.target_id == str(event.job_id)
    _subset(case.before, event.before, "before")
    _subset(case.after, event.after, "after")
    if case.web:  # where the click came from: every event made by a request carries its id and address
        assert len(event.request_id) == 32 and event.client_address == "127.0.0.1"
    else:
        assert event.request_id == "" and event.client_address == ""
    for other in events:  # the same step's other events: same actor, same request, same job
        assert (other.actor_username, other.actor_role, other.request_id, other.client_address) == (
            event.actor_username,
            event.actor_role,
            event.request_id,
            event.client_address,
        ), other.action
        assert other.job_id == event.job_id or case.job is None, other.action
    assert event.prev_hash and len(event.hash) == 64
    text = as_text(event)
    for secret in (PASSWORD, *case.secrets):
        assert (secret(world) if callable(secret) else secret) not in text
    assert "password" not in (event.detail or "").lower() or "wrong username or password" in event.detail
