"""The green-rehearsal policy (issue 18) on PostgreSQL, without a Swarm: an update of a site that
requires it is refused (page, `site update` exit 2, and the job itself for any other caller) unless
the newest rehearsal of the same digest and modules passed; an admin may override in writing, audited
with the reason when the job acts on it; an operator may not, nor switch the policy off.

The job's edge to Swarm (the engine, reading the modules) is faked, and the job is stopped right
after the policy's check by a refusal from the next check (the approval binding)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import engine
from clusters.models import Rehearsal, Site
from clusters.sites.module_update import update
from jobs import control, runner
from jobs.models import Job
from jobs.runner import JobFailed
from panel.models import AuditEvent
from tests import factories
from tests.commands import run

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "d" * 64
OTHER = "sha256:" + "e" * 64
INSTALLED = {
    "base": ["installed", "19.0.1.3"],
    "shop_base": ["installed", "19.0.1.0.0"],
    "shop_sale": ["installed", "19.0.1.0.0"],
}
REASON = "hotfix for the invoice numbering, rehearsed by hand on staging"
STOPPED = "stopped after the policy's check"


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)
    return factories.site(
        factories.cluster(),
        slug="acme",
        db_name="acme",
        image_digest=DIGEST,
        installed_modules=INSTALLED,
        modules_read_at=timezone.now(),
        rehearsal_required=True,
    )


@pytest.fixture
def swarm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update job up to its Check step: no engine, the modules as read, then a refusal."""

    @contextlib.contextmanager
    def client_for(cluster: Any, timeout: int = 0) -> Iterator[object]:
        yield object()

    def binding(*_: Any) -> None:
        raise JobFailed(STOPPED)

    monkeypatch.setattr(engine, "client_for", client_for)
    monkeypatch.setattr(update, "read_modules", lambda *a, **k: INSTALLED)
    monkeypatch.setattr(update.ModuleUpdateRunner, "_check_binding", binding)


def rehearsed(
    site: Site, *, ok: bool = True, digest: str = DIGEST, modules: tuple[str, ...] = ("shop_base",)
) -> None:
    Rehearsal.objects.create(
        site=site, job_id=40, digest=digest, modules=sorted(modules), ok=ok, finished_at=timezone.now()
    )


def executed(job: Job) -> Job:
    runner.execute(job.pk)
    return Job.objects.get(pk=job.pk)


def overrides() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="site.rehearsal_override"))


def test_without_a_green_rehearsal_the_command_is_refused_and_nothing_is_started(site: Site) -> None:
    code, _, error = run("site", "update", "acme", "--modules", "shop_base", "--wait")
    assert code == 2 and "needs a green rehearsal of the same digest and modules" in error, error
    assert "no rehearsal of shop_base on sha256:dddd" in error and "site rehearse acme" in error
    assert not Job.objects.exists()
    rehearsed(site, digest=OTHER)  # another digest, another module set, or a failure: not this update's
    rehearsed(site, modules=("shop_base", "shop_sale"))
    assert run("site", "update", "acme", "--modules", "shop_base")[0] == 2
    rehearsed(site, ok=True)
    rehearsed(site, ok=False)  # the newest of this change failed: an older success does not count
    code, _, error = run("site", "update", "acme", "--modules", "shop_base")
    assert code == 2 and "the last rehearsal of shop_base" in error and "failed" in error
    assert not Job.objects.exists()


def test_a_green_rehearsal_of_the_same_digest_and_modules_lets_it_through(site: Site, swarm: None) -> None:
    rehearsed(site, modules=("shop_sale", "shop_base"))
    code, out, _ = run("site", "update", "acme", "--modules", "shop_base,shop_sale")
    assert code == 0, out
    job = executed(Job.objects.get())
    assert job.params == {"modules": ["shop_base", "shop_sale"], "backup": True}
    assert job.error == STOPPED  # past the policy: the next check refused it
    assert "green-rehearsal policy met: rehearsal job #40" in "\n".join(
        job.lines.values_list("text", flat=True)
    )


def test_the_job_refuses_for_any_other_caller_and_changes_nothing(site: Site, swarm: None, personas) -> None:  # type: ignore[no-untyped-def]
    job = control.start(
        "module_update", site=site, params={"modules": ["shop_base"]}, user=personas.users["admin"]
    )
    job = executed(job)
    assert job.state == "failed" and job.result == {"refused": job.error}  # `--wait`: exit 2
    assert "needs a green rehearsal" in job.error and STOPPED not in job.error
    site.refresh_from_db()
    assert site.status == Site.Status.NEW and site.image_digest == DIGEST
    # A reason in the parameters counts only from an admin: an operator's is refused, and not audited.
    job = control.start(
        "module_update",
        site=site,
        params={"modules": ["shop_base"], "rehearsal_override": REASON},
        user=personas.users["operator"],
    )
    job = executed(job)
    assert "only an admin may" in job.error and job.result == {"refused": job.error}
    assert overrides() == []


def test_an_admin_overrides_in_writing_and_the_job_audits_the_reason(
    site: Site, swarm: None, personas
) -> None:  # type: ignore[no-untyped-def]
    code, _, error = run("site", "update", "acme", "--modules", "shop_base", "--override-rehearsal", REASON)
    assert code == 2 and "give --as USER" in error  # an override names a person
    code, _, error = run(
        "site", "--as", "dave", "update", "acme", "--modules", "shop_base", "--override-rehearsal", "ok"
    )
    assert code == 2 and "at least 10 characters" in error
    assert not Job.objects.exists()
    code, out, _ = run(
        "site", "--as", "dave", "update", "acme", "--modules", "shop_base", "--override-rehearsal", REASON
    )
    assert code == 0, out
    job = executed(Job.objects.get())
    assert job.params["rehearsal_override"] == REASON and job.error == STOPPED
    [event] = overrides()
    assert (event.actor_username, event.actor_user_id) == ("dave", personas.users["admin"].pk)
    assert (event.job_id, event.site_slug, event.detail) == (job.pk, "acme", REASON)
    assert event.after == {"digest": DIGEST, "modules": ["shop_base"], "reason": REASON}


def test_an_operator_cannot_override(site: Site, personas) -> None:  # type: ignore[no-untyped-def]
    code, _, error = run(
        "site", "--as", "bob", "update", "acme", "--modules", "shop_base", "--override-rehearsal", REASON
    )
    assert code == 2 and "bob may not override the green-rehearsal policy: only an admin may" in error
    url = reverse("site-update-modules", args=[site.slug])
    page = personas.client("operator").post(url, {"modules": ["shop_base"]}).content.decode()
    assert "<strong>not met</strong>" in page and "an admin may override it" in page
    assert 'name="override_reason"' not in page
    data = {"modules": ["shop_base"], "confirm": "yes", "backup": "on", "override_reason": REASON}
    response = personas.client("operator").post(url, data)
    assert response.status_code == 422 and "only an admin may" in response.content.decode()
    assert not Job.objects.exists() and overrides() == []


def test_the_plan_says_whether_the_policy_applies_and_is_met_and_admins_override_there(
    site: Site, personas
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("site-update-modules", args=[site.slug])
    admin = personas.client("admin")
    page = admin.post(url, {"modules": ["shop_base"]}).content.decode()
    assert "<strong>not met</strong>" in page and 'name="override_reason"' in page
    response = admin.post(url, {"modules": ["shop_base"], "confirm": "yes"})  # no reason: refused
    assert response.status_code == 422 and "needs a green rehearsal" in response.content.decode()
    assert not Job.objects.exists()
    response = admin.post(url, {"modules": ["shop_base"], "confirm": "yes", "override_reason": REASON})
    assert response.status_code in (200, 302)
    assert Job.objects.get().params == {
        "modules": ["shop_base"],
        "backup": False,
        "rehearsal_override": REASON,
    }
    rehearsed(site)
    page = admin.post(url, {"modules": ["shop_base"]}).content.decode()
    assert "<strong>met</strong> by" in page and "rehearsal job #40" in page
    Site.objects.filter(pk=site.pk).update(rehearsal_required=False)
    page = admin.post(url, {"modules": ["shop_base"]}).content.decode()
    assert "does not require a green rehearsal" in page


def test_operators_turn_the_policy_on_and_only_admins_turn_it_off(site: Site, personas) -> None:  # type: ignore[no-untyped-def]
    code, _, error = run("site", "--as", "bob", "edit", "acme", "--set", "rehearsal_required=false")
    assert code == 2 and "Only an admin may turn the green-rehearsal policy off" in error
    site.refresh_from_db()
    assert site.rehearsal_required
    assert run("site", "--as", "dave", "edit", "acme", "--set", "rehearsal_required=false")[0] == 0
    site.refresh_from_db()
    assert not site.rehearsal_required
    assert run("site", "--as", "bob", "edit", "acme", "--set", "rehearsal_required=true")[0] == 0
    site.refresh_from_db()
    assert site.rehearsal_required
    edited = AuditEvent.objects.filter(action="site.edit", actor_username="bob").get()
    assert edited.after == {"rehearsal_required": True}
