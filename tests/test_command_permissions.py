"""Every panel command and subcommand x every role, as `--as USER` (panel/cli.py): a role below
what the subcommand needs is refused (exit 2) before anything runs; the others pass the check."""

import argparse

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from panel.cli import WHOLE, PanelCommand, check
from panel.models import AuditEvent
from panel.roles import ACTIONS, ROLE_ACTIONS, ROLES
from tests import factories

pytestmark = pytest.mark.django_db

OURS = ("panel", "clusters", "clusters.approvals", "jobs", "lab", "panel.notify")


def panel_commands() -> list[tuple[str, PanelCommand]]:
    found = []
    for name, app in sorted(get_commands().items()):
        if app in OURS:
            command = load_command_class(app, name)
            assert isinstance(command, PanelCommand), f"`{name}` does not check roles (panel/cli.py)"
            found.append((name, command))
    return found


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return None


def subcommands(name: str, command: PanelCommand) -> list[str]:
    """Every subcommand, a nested one as "edge deploy" (how `permissions` declares it)."""
    choices = _choices(command.create_parser("manage.py", name))
    if choices is None:
        return [WHOLE]
    found = []
    for sub, parser in choices.items():
        nested = _choices(parser)
        found += [f"{sub} {n}" for n in nested] if nested else [sub]
    return sorted(found)


COMMANDS = panel_commands()
CASES = [(name, command, sub) for name, command in COMMANDS for sub in subcommands(name, command)]


def test_every_subcommand_declares_the_role_it_needs():  # type: ignore[no-untyped-def]
    expected = {
        "site",
        "cluster",
        "domain",
        "change",
        "token",
        "gate",
        "odoo-log",
        "job",
        "audit",
        "users",
        "lab",
        "demo",
        "notify",
    }
    assert {name for name, _ in COMMANDS} >= expected
    for name, command in COMMANDS:
        declared = set(command.permissions)
        assert declared == set(subcommands(name, command)), f"`{name}`: {declared}"
        assert set(command.permissions.values()) <= set(ACTIONS), name


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "command", "sub"), CASES, ids=[f"{n} {s}".strip() for n, _, s in CASES])
def test_role_matrix(name, command, sub, role):  # type: ignore[no-untyped-def]
    user = factories.user(f"u-{role}", role=role)
    needed = command.permissions[sub]
    if needed in ROLE_ACTIONS[role]:
        check(user, needed, f"{name} {sub}")  # passes
        return
    before = AuditEvent.objects.count()
    outer, _, nested = sub.partition(" ")
    options = {"acting_as": user.get_username(), command.subcommand_dest: outer or None, "skip_checks": True}
    if nested:
        options[f"{outer}_action"] = nested
    with pytest.raises(CommandError) as refused:
        command.execute(**options)  # refused before the subcommand runs: nothing else is needed
    assert refused.value.returncode == 2 and "may not run" in str(refused.value)
    assert AuditEvent.objects.count() == before


def test_an_unknown_or_inactive_user_is_refused():  # type: ignore[no-untyped-def]
    gone = factories.user("gone", role="admin")
    gone.is_active = False
    gone.save()
    for username in ("nobody", "gone"):
        with pytest.raises(CommandError) as refused:
            call_command("site", "--as", username, "list")
        assert refused.value.returncode == 2 and "no active panel user" in str(refused.value)


def test_the_acting_user_is_who_the_audit_log_names(monkeypatch):  # type: ignore[no-untyped-def]
    factories.user("olga", role="operator")
    site = factories.site(factories.cluster(name="prod"), slug="acme")
    monkeypatch.setattr("jobs.control.enqueue", lambda *a: None)  # no worker: the job stays queued
    call_command("site", "--as", "olga", "scale", "acme", "3")
    event = AuditEvent.objects.filter(action="job.start").latest("id")
    assert (event.actor_username, event.actor_role, event.site_slug) == ("olga", "operator", site.slug)


def test_a_job_started_from_a_command_names_the_audit_logs_actor(monkeypatch, personas):  # type: ignore[no-untyped-def]
    """Not "system": the job list shows who the audit log says started it (cli:<unix user>)."""
    from jobs.models import Job

    factories.site(factories.cluster(name="prod"), slug="acme")
    monkeypatch.setattr("jobs.control.enqueue", lambda *a: None)  # no worker: the job stays queued
    monkeypatch.setattr("sys.argv", ["manage.py", "site", "scale", "acme", "3"])  # as ops type it
    call_command("site", "scale", "acme", "3")
    event = AuditEvent.objects.filter(action="job.start").latest("id")
    job = Job.objects.get(pk=event.job_id)
    assert event.actor_username.startswith("cli:") and job.created_by_name == event.actor_username
    page = personas.client("viewer").get("/jobs/").content.decode()
    assert event.actor_username in page and ">system<" not in page


def test_plain_commands_act_as_the_machine_operator():  # type: ignore[no-untyped-def]
    call_command("cluster", "add", "edge", "--endpoint", "unix:///var/run/docker.sock")
    event = AuditEvent.objects.filter(action="cluster.create").latest("id")
    assert event.actor_username.startswith("cli:") and event.actor_role == "cli"
