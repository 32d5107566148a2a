"""Every button has a command: each page action (a URL that changes something) maps to a management
command in ACTIONS, which asks for the same role; and the commands added for them succeed, refuse
(role, missing --yes, bad input) without changing anything, and leave the same audit rows as the pages.

Jobs are only enqueued: no worker runs them (as in tests/audit/test_actions.py)."""

import argparse
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class
from django.urls import reverse

from clusters.approvals.models import ApiToken, ChangeState, ManifestChange
from clusters.models import Backup, Cluster, Domain, Site
from jobs import control
from jobs.models import Job
from panel.models import AuditEvent
from tests import factories
from tests.commands import run
from tests.permissions import PUBLIC, all_patterns, required_action

pytestmark = pytest.mark.django_db

# Every URL name of the panel: a page action -> (command, subcommand, options that pick the role);
# reads need no command. A new URL must be placed in one of the two, so a new button without a
# command fails test_every_page_action_has_a_command.
ACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cluster-create": ("cluster", "add", {}),
    "cluster-edit": ("cluster", "edit", {}),
    "cluster-delete": ("cluster", "remove", {}),
    "cluster-test": ("cluster", "test", {}),
    "cluster-sync": ("cluster", "sync", {}),
    "cluster-edge-deploy": ("cluster", "edge", {"edge_action": "deploy"}),
    "site-create": ("site", "create", {}),
    "site-edit": ("site", "edit", {}),
    "site-delete": ("site", "delete", {}),
    "site-drift": ("site", "drift", {}),
    "site-deploy": ("site", "deploy", {}),
    "site-reconcile": ("site", "reconcile", {}),
    "site-scale": ("site", "scale", {}),
    "site-read-modules": ("site", "modules", {}),
    "site-update-modules": ("site", "update", {}),
    "site-restore": ("site", "restore", {}),
    "site-backup": ("site", "backup", {}),
    "site-drill": ("site", "drill", {}),
    "domain-create": ("domain", "add", {}),
    "domain-edit": ("domain", "edit", {}),
    "domain-delete": ("domain", "remove", {}),
    "job-cancel": ("job", "cancel", {}),
    "change-submit": ("change", "submit", {"archive": "x.zip"}),
    "change-submit-folder": ("change", "submit", {"addons_path": "/srv/addons"}),
    "change-approve": ("change", "approve", {}),
    "change-reject": ("change", "reject", {}),
    "change-override": ("change", "override", {}),
    "api-change-submit": ("change", "submit", {"archive": "x.zip"}),
    "token-list": ("token", "create", {}),  # the tokens page's form creates one
    "token-revoke": ("token", "revoke", {}),
    "user-create": ("users", "add", {}),
    "user-role": ("users", "role", {}),
    "user-active": ("users", "deactivate", {}),  # and `users activate`
    "notify-channel-create": ("notify", "add", {}),
    "notify-channel-delete": ("notify", "remove", {}),
    "notify-channel-test": ("notify", "test", {}),
    "notify-channel-edit": ("notify", "edit", {}),
    "notify-channel-enabled": ("notify", "disable", {}),  # and `notify enable`
}
READS = {
    "dashboard",
    "healthz",
    "metrics",
    "login",
    "logout",
    "cluster-list",
    "cluster-detail",
    "cluster-live",
    "cluster-edge",
    "site-list",
    "site-detail",
    "site-preflight",
    "domain-list",
    "job-list",
    "job-detail",
    "job-log",
    "job-log-download",
    "job-events",
    "change-list",
    "change-detail",
    "api-change-detail",  # `change show ID --json`
    "api-site-check",  # a dry run that stores nothing: `gate check --site SLUG`
    "audit-list",
    "audit-export-csv",
    "audit-export-json",
    "user-list",
    "notify-channel-list",  # `notify list --json`
    "notify-channel-detail",
}
ROLE_OF = {"viewer": "alice", "operator": "bob", "approver": "carol", "admin": "dave"}


def command(name: str) -> Any:
    return load_command_class(get_commands()[name], name)


def subcommands(name: str) -> dict[str, Any]:
    for action in command(name).create_parser("manage.py", name)._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_page_action_has_a_command():  # type: ignore[no-untyped-def]
    patterns = {p.name: p for _, p in all_patterns() if p.name}
    unplaced = set(patterns) - set(ACTIONS) - READS
    assert not unplaced, f"URLs with no command and not listed as reads: {sorted(unplaced)}"
    assert not (set(ACTIONS) | READS) - set(patterns), "the table names URLs that no longer exist"
    for url_name, (command_name, sub, options) in ACTIONS.items():
        assert sub in subcommands(command_name), f"{url_name}: no `{command_name} {sub}`"
        needed = command(command_name).required_action({"action": sub, **options})
        assert needed == required_action(patterns[url_name]), (
            f"{url_name} needs {required_action(patterns[url_name])}, `{command_name} {sub}` {needed}"
        )


def test_reads_change_nothing(personas):  # type: ignore[no-untyped-def]
    """What the table calls a read changes nothing when an admin POSTs to it: no job, and no audit row
    but those of sensitive reads (a log download, an export)."""
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    job = factories.job(site)
    kwargs = {"slug": site.slug, "pk": site.cluster.pk, "job_id": job.pk, "change_id": 1}

    for _, pattern in all_patterns():
        if pattern.name not in READS or pattern.name in PUBLIC or pattern.name == "job-events":
            continue
        wanted = {k: kwargs[k] for k in pattern.pattern.converters}
        last, jobs = (
            AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            Job.objects.count(),
        )
        personas.client("admin").post(reverse(pattern.name, kwargs=wanted), {"confirm": "yes", "name": "x"})
        written = set(AuditEvent.objects.filter(id__gt=last).values_list("action", flat=True))
        assert written <= {"job.log_download", "audit.export"} and Job.objects.count() == jobs, pattern.name


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)  # the job stays queued


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def unchanged(before: int) -> bool:
    return AuditEvent.objects.count() == before


@pytest.fixture
def world(personas):  # type: ignore[no-untyped-def]
    cluster = factories.cluster(name="prod")
    site = factories.site(cluster, slug="acme", replicas=2)
    factories.domain(site, "shop.example.com")
    return {"cluster": cluster, "site": site, "personas": personas}


# -- sites -----------------------------------------------------------------------------------------


def test_site_edit_uses_the_page_form_and_audits(world):  # type: ignore[no-untyped-def]
    code, out, _ = run(
        "site", "--as", "bob", "edit", "acme", "--replicas", "4", "--set", "name=Acme", "--json"
    )
    assert code == 0 and json.loads(out)["replicas"] == 4
    site = Site.objects.get(slug="acme")
    assert (site.replicas, site.name) == (4, "Acme")
    [event] = events("site.edit")
    assert (event.actor_username, event.before, event.after) == (
        "bob",
        {"replicas": 2, "name": ""},
        {"replicas": 4, "name": "Acme"},
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--replicas", "99"),
        ("--image", "not an image!"),
        ("--series", "9.0"),
        ("--set", "slug=other"),  # disabled on the page: kept
        ("--set", "nonsense=1"),
    ],
)
def test_site_edit_refuses_bad_values_and_changes_nothing(world, args):  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    code, _, message = run("site", "edit", "acme", *args)
    site = Site.objects.get(pk=world["site"].pk)
    if args == ("--set", "slug=other"):  # a disabled field is ignored, as on the page
        assert code == 0 and site.slug == "acme"
        return
    assert code == 2 and message
    assert (site.replicas, site.image, site.series) == (2, world["site"].image, world["site"].series)
    assert unchanged(before)


def test_site_edit_needs_an_operator(world):  # type: ignore[no-untyped-def]
    code, _, message = run("site", "--as", "alice", "edit", "acme", "--replicas", "3")
    assert code == 2 and "may not run" in message
    assert Site.objects.get(slug="acme").replicas == 2


def test_site_delete_needs_yes_and_an_admin(world):  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    code, _, message = run("site", "delete", "acme")
    assert code == 2 and "--yes" in message
    code, _, message = run("site", "--as", "bob", "delete", "acme", "--yes")
    assert code == 2 and "may not run" in message
    code, _, message = run("site", "delete", "nosuch", "--yes")
    assert code == 2 and "no site 'nosuch'" in message
    assert Site.objects.filter(slug="acme").exists() and unchanged(before)
    code, _, _ = run("site", "--as", "dave", "delete", "acme", "--yes")
    assert code == 0 and not Site.objects.filter(slug="acme").exists()
    [event] = events("site.delete")
    assert (event.actor_username, event.site_slug, event.detail) == ("dave", "acme", "also deleted: 1 domain")


def test_site_create_is_audited_with_its_domains(world):  # type: ignore[no-untyped-def]
    code, _, _ = run(
        "site",
        "create",
        "beta",
        "--cluster",
        "prod",
        "--image",
        "registry.example.com/odoo:17.0",
        "--db-node",
        "manager1",
        "--nfs",
        "nfs.example.com:/srv/beta",
        "--domain",
        "beta.example.com",
    )
    assert code == 0
    [created] = events("site.create")
    assert created.actor_username.startswith("cli:") and created.after["slug"] == "beta"
    assert [e.target_name for e in events("domain.create")] == ["beta.example.com"]
    # a taken domain: neither the site nor its domains are stored
    before = AuditEvent.objects.count()
    code, _, message = run(
        "site",
        "create",
        "gamma",
        "--cluster",
        "prod",
        "--image",
        "registry.example.com/odoo:17.0",
        "--db-node",
        "manager1",
        "--nfs",
        "nfs.example.com:/srv/g",
        "--domain",
        "shop.example.com",
    )
    assert code == 2 and "already a domain of site acme" in message
    assert not Site.objects.filter(slug="gamma").exists() and unchanged(before)


def test_site_reconcile_starts_the_job(world):  # type: ignore[no-untyped-def]
    code, out, _ = run("site", "--as", "bob", "reconcile", "acme")
    assert code == 0
    job = Job.objects.get(kind="reconcile")
    assert f"job {job.pk}" in out
    [event] = events("job.start")
    assert (event.actor_username, event.site_slug) == ("bob", "acme")


def test_site_restore_needs_yes_and_a_backup_of_that_site(world):  # type: ignore[no-untyped-def]
    backup = Backup.objects.create(site=world["site"], filename="acme-1.dump", size_bytes=10)
    other = factories.site(world["cluster"], slug="other")
    foreign = Backup.objects.create(site=other, filename="other-1.dump")
    code, out, _ = run("site", "backups", "acme", "--json")
    assert code == 0 and [b["id"] for b in json.loads(out)] == [backup.pk]
    before = AuditEvent.objects.count()
    for args, text in (
        (("--backup", str(backup.pk)), "--yes"),
        (("--backup", str(foreign.pk), "--yes"), "no backup"),
        (("--backup", "999999", "--yes"), "no backup"),
    ):
        code, _, message = run("site", "restore", "acme", *args)
        assert code == 2 and text in message
    code, _, message = run("site", "--as", "alice", "restore", "acme", "--backup", str(backup.pk), "--yes")
    assert code == 2 and "may not run" in message
    assert not Job.objects.exists() and unchanged(before)
    code, _, _ = run("site", "--as", "bob", "restore", "acme", "--backup", str(backup.pk), "--yes")
    assert code == 0
    job = Job.objects.get()
    assert (job.kind, job.params, job.created_by_name) == ("restore", {"backup_id": backup.pk}, "bob")
    assert events("job.start")[0].actor_username == "bob"


# -- domains ---------------------------------------------------------------------------------------


def test_domain_add_on_a_deployed_site_starts_the_router_job(world):  # type: ignore[no-untyped-def]
    Site.objects.filter(pk=world["site"].pk).update(image_digest="sha256:" + "a" * 64)
    code, out, _ = run("domain", "--as", "bob", "add", "acme", "New.Example.com", "--json")
    assert code == 0
    answer = json.loads(out)
    job = Job.objects.get(kind="domain")
    assert answer == {"domain": "new.example.com", "site": "acme", "job": job.pk, "note": answer["note"]}
    [created] = events("domain.create")
    assert (created.actor_username, created.site_slug, created.after["name"]) == (
        "bob",
        "acme",
        "new.example.com",
    )
    assert events("job.start")[0].actor_username == "bob"


def test_domain_add_on_a_new_site_waits_for_its_deploy(world):  # type: ignore[no-untyped-def]
    code, out, _ = run("domain", "add", "acme", "www.example.com")
    assert code == 0 and "not deployed yet" in out and not Job.objects.exists()
    assert Domain.objects.filter(name="www.example.com", site=world["site"]).exists()


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("add", "acme", "not a host"), "name"),
        (("add", "acme", "shop.example.com"), "already a domain of site acme"),
        (("add", "nosuch", "x.example.com"), "no site"),
        (("remove", "acme", "shop.example.com"), "--yes"),
        (("remove", "other", "shop.example.com", "--yes"), "no domain"),
        (("remove", "acme", "nope.example.com", "--yes"), "no domain"),
        (("edit", "shop.example.com", "bad host"), "name"),
        (("--as", "alice", "add", "acme", "x.example.com"), "may not run"),
    ],
)
def test_domain_refusals_change_nothing(world, args, text):  # type: ignore[no-untyped-def]
    factories.site(world["cluster"], slug="other")
    before = AuditEvent.objects.count()
    code, _, message = run("domain", *args)
    assert code == 2 and text in message
    assert sorted(Domain.objects.values_list("name", flat=True)) == ["shop.example.com"]
    assert unchanged(before) and not Job.objects.exists()


def test_domain_edit_and_remove_are_audited(world):  # type: ignore[no-untyped-def]
    code, _, _ = run("domain", "--as", "bob", "edit", "shop.example.com", "shop2.example.com")
    assert code == 0
    [edited] = events("domain.edit")
    assert (edited.before, edited.after) == ({"name": "shop.example.com"}, {"name": "shop2.example.com"})
    code, out, _ = run("domain", "--as", "bob", "remove", "acme", "shop2.example.com", "--yes", "--json")
    assert code == 0 and json.loads(out)["job"] is None  # not deployed: nothing to rewrite
    assert not Domain.objects.exists()
    [deleted] = events("domain.delete")
    assert (deleted.actor_username, deleted.site_slug) == ("bob", "acme")
    code, out, _ = run("domain", "list", "--json")
    assert json.loads(out) == []


# -- clusters --------------------------------------------------------------------------------------


def test_cluster_edit_and_remove(world):  # type: ignore[no-untyped-def]
    code, _, _ = run("cluster", "--as", "dave", "edit", "prod", "--endpoint", "unix:///run/docker.sock")
    assert code == 0 and Cluster.objects.get(name="prod").endpoint == "unix:///run/docker.sock"
    [edited] = events("cluster.edit")
    assert edited.actor_username == "dave" and edited.after == {"endpoint": "unix:///run/docker.sock"}
    before = AuditEvent.objects.count()
    for args, text in (
        (("--as", "bob", "edit", "prod", "--name", "x"), "may not run"),
        (("edit", "prod", "--endpoint", "tcp://manager.example.com:2376"), "needs TLS client certificates"),
        (("edit", "nosuch", "--name", "x"), "no cluster"),
        (("remove", "prod"), "--yes"),
        (("remove", "prod", "--yes"), "acme"),  # its sites protect it
        (("remove", "nosuch", "--yes"), "no cluster"),
    ):
        code, _, message = run("cluster", *args)
        assert code == 2 and text in message, args
    assert unchanged(before) and Cluster.objects.filter(name="prod").exists()
    factories.cluster(name="old")
    code, _, _ = run("cluster", "remove", "old", "--yes")
    assert code == 0 and not Cluster.objects.filter(name="old").exists()
    [deleted] = events("cluster.delete")
    assert deleted.actor_username.startswith("cli:") and deleted.cluster_name == "old"


def test_cluster_test_is_audited_like_the_button(world, monkeypatch):  # type: ignore[no-untyped-def]
    from clusters import engine

    def refuse(cluster):  # type: ignore[no-untyped-def]
        raise engine.EngineError("unreachable", "connection refused")

    monkeypatch.setattr(engine, "check_connection", refuse)
    code, _, message = run("cluster", "--as", "bob", "test", "prod")
    assert code == 1 and "connection refused" in message
    [event] = events("cluster.test")
    assert (event.actor_username, event.detail) == ("bob", "failed (unreachable)")


# -- manifest changes ------------------------------------------------------------------------------


@pytest.fixture
def gated(world):  # type: ignore[no-untyped-def]
    Site.objects.filter(pk=world["site"].pk).update(
        installed_modules={
            "base": ["installed", "17.0.1.3"],
            "web": ["installed", "17.0.1.0"],
            "report_xlsx": ["installed", "17.0.1.0.0"],
        },
        modules_read_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
    )
    return world


def archive(tmp_path, depends: list[str]) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "change.zip"
    manifest = repr({"name": "report_xlsx", "version": "17.0.1.0.1", "depends": depends}).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("addons/report_xlsx/__manifest__.py", manifest)
        zf.writestr("addons/report_xlsx/__init__.py", b"")
    return str(path)


def test_change_submit_approve_four_eyes(gated, tmp_path):  # type: ignore[no-untyped-def]
    code, out, _ = run(
        "change", "--as", "bob", "submit", "acme", "--archive", archive(tmp_path, ["web"]), "--json"
    )
    assert code == 0
    answer = json.loads(out)
    assert answer["passes"] is True and answer["change"]["state"] == ChangeState.PENDING
    change_id = answer["change"]["id"]
    [submitted] = events("manifest.submit")
    assert (submitted.actor_username, submitted.site_slug) == ("bob", "acme")
    # the submitter (made an approver meanwhile) may not approve their own change
    from panel.roles import assign_role

    assign_role(gated["personas"].users["operator"], "approver")
    code, _, message = run("change", "--as", "bob", "approve", str(change_id))
    assert code == 2 and ManifestChange.objects.get(pk=change_id).state == ChangeState.PENDING
    code, _, message = run("change", "approve", str(change_id))  # four eyes need a person
    assert code == 2 and "--as" in message
    code, out, _ = run("change", "--as", "carol", "approve", str(change_id), "--json")
    assert code == 0 and json.loads(out)["change"]["state"] == ChangeState.APPROVED
    [approved] = events("manifest.approve")
    assert approved.actor_username == "carol"


def test_a_blocked_change_cannot_be_approved_only_overridden(gated, tmp_path):  # type: ignore[no-untyped-def]
    code, out, _ = run(
        "change",
        "--as",
        "bob",
        "submit",
        "acme",
        "--archive",
        archive(tmp_path, ["sale_subscription"]),
        "--json",
    )
    assert code == 1 and json.loads(out)["blocked"] == ["report_xlsx"]
    change = ManifestChange.objects.get()
    assert change.state == ChangeState.BLOCKED
    before = AuditEvent.objects.count()
    code, _, message = run("change", "--as", "carol", "approve", str(change.pk))
    assert code == 2 and message
    code, _, message = run("change", "--as", "carol", "override", str(change.pk), "--reason", "hotfix now")
    assert code == 2 and "may not run" in message  # an admin's
    code, _, message = run("change", "--as", "carol", "approve", "999999")
    assert code == 2 and "no change" in message
    assert unchanged(before) and ManifestChange.objects.get().state == ChangeState.BLOCKED
    reason = "sale_subscription is installed by the same release, checked by hand"
    code, _, _ = run("change", "--as", "dave", "override", str(change.pk), "--reason", reason)
    assert code == 0 and ManifestChange.objects.get().state == ChangeState.OVERRIDDEN
    assert events("manifest.override")[0].detail == reason


def test_change_reject_and_bad_input(gated, tmp_path):  # type: ignore[no-untyped-def]
    code, _, message = run("change", "--as", "bob", "submit", "acme", "--archive", str(tmp_path / "none.zip"))
    assert code == 2 and "cannot read" in message
    code, _, message = run("change", "--as", "bob", "submit", "acme", "--addons-path", str(tmp_path))
    assert code == 2 and "may not run" in message  # a host folder is an admin's
    code, _, message = run(
        "change", "--as", "bob", "submit", "nosuch", "--archive", archive(tmp_path, ["web"])
    )
    assert code == 2 and "no site" in message
    assert not ManifestChange.objects.exists()
    code, _, _ = run("change", "--as", "bob", "submit", "acme", "--archive", archive(tmp_path, ["web"]))
    change = ManifestChange.objects.get()
    code, _, _ = run("change", "--as", "carol", "reject", str(change.pk), "--reason", "not this week")
    assert code == 0 and ManifestChange.objects.get().state == ChangeState.REJECTED
    assert events("manifest.reject")[0].detail == "not this week"
    code, out, _ = run("change", "list", "--site", "acme", "--json")
    assert [c["state"] for c in json.loads(out)] == [ChangeState.REJECTED]


# -- tokens ----------------------------------------------------------------------------------------


def test_token_create_prints_the_secret_once_and_revoke_needs_yes(personas):  # type: ignore[no-untyped-def]
    from clusters.approvals import tokens

    code, out, _ = run("token", "--as", "alice", "create", "CI of acme", "--json")
    assert code == 0
    answer = json.loads(out)
    token = ApiToken.objects.get()
    assert (answer["id"], answer["user"]) == (token.pk, "alice")
    assert tokens.authenticate(answer["token"]) == token and answer["token"] not in str(token.digest)
    [created] = events("api_token.create")
    assert created.actor_username == "alice" and answer["token"] not in json.dumps(created.after)
    before = AuditEvent.objects.count()
    for args, text in (
        (("--as", "alice", "revoke", str(token.pk)), "--yes"),
        (("--as", "bob", "revoke", str(token.pk), "--yes"), "no token"),  # not bob's
        (("revoke", "999999", "--yes"), "no token"),
        (("--as", "bob", "create", "x", "--user", "alice"), "own tokens"),
        (("create", "x"), "--user"),
    ):
        code, _, message = run("token", *args)
        assert code == 2 and text in message, args
    assert unchanged(before) and ApiToken.objects.get().revoked_at is None
    code, _, _ = run("token", "--as", "alice", "revoke", str(token.pk), "--yes")
    assert code == 0 and ApiToken.objects.get().revoked_at is not None
    [revoked] = events("api_token.revoke")
    assert revoked.actor_username == "alice"
    code, out, _ = run("token", "create", "for bob", "--user", "bob")
    assert code == 0 and events("api_token.create")[-1].actor_username.startswith("cli:")


# -- users -----------------------------------------------------------------------------------------


def test_users_deactivate_needs_yes_and_keeps_an_admin(personas):  # type: ignore[no-untyped-def]
    code, _, message = run("users", "deactivate", "alice")
    assert code == 2 and "--yes" in message
    code, _, message = run("users", "--as", "bob", "deactivate", "alice", "--yes")
    assert code == 2 and "may not run" in message
    code, _, message = run("users", "deactivate", "dave", "--yes")
    assert code == 2 and "last active admin" in message
    code, _, message = run("users", "deactivate", "nobody", "--yes")
    assert code == 2 and "no user" in message
    assert not events("user.deactivate")
    code, _, _ = run("users", "--as", "dave", "deactivate", "alice", "--yes")
    assert code == 0 and not personas.users["viewer"].__class__.objects.get(username="alice").is_active
    code, _, _ = run("users", "--as", "dave", "activate", "alice")
    assert code == 0
    assert [e.actor_username for e in events("user.deactivate") + events("user.reactivate")] == [
        "dave",
        "dave",
    ]
