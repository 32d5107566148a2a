"""Sites on the lab (issue 5): every checklist property on the live services, a new image under the
same tag reaches every task, a failing healthcheck rolls back by itself, drift is found and
reconciled, a drained database node never moves the database."""

import json
import subprocess
import time

import pytest
from django.utils import timezone

from clusters.models import Site
from clusters.sites import inspection
from clusters.sites.site_spec import spec_for
from clusters.stack import preflight
from clusters.stack.drift import live_stack_summary
from clusters.tasks import drift_one
from jobs.models import Job
from tests import factories
from tests.sites.conftest import build_variant
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def inspect(name: str) -> dict:
    out = subprocess.run(["docker", "service", "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def running_digests(docker_client, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    tasks = docker_client.api.tasks(filters={"service": name, "desired-state": "running"})
    return {
        t["Spec"]["ContainerSpec"]["Image"].partition("@")[2]
        for t in tasks
        if t["Status"]["State"] == "running"
    }


def test_deploy_applies_the_checklist(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site()
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    site.refresh_from_db()
    assert site.status == "healthy" and site.image_digest.startswith("sha256:")

    odoo = inspect(f"{site.slug}_odoo")
    spec = odoo["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    env = dict(e.split("=", 1) for e in container["Env"])
    labels = spec["Labels"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert container["Image"].endswith("@" + site.image_digest)
    assert env["ODOO_SESSION_REDIS"] == "1" and env["ODOO_SESSION_REDIS_HOST"] == f"{site.slug}_redis"
    assert any("session_redis" in a for a in container["Args"])
    assert any(m["Target"] == "/var/lib/odoo" and m["Source"] == site.bind_path for m in container["Mounts"])
    assert "/web/health" in " ".join(container["Healthcheck"]["Test"])
    assert (
        spec["UpdateConfig"]["Order"] == "start-first" and spec["UpdateConfig"]["FailureAction"] == "rollback"
    )
    assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"  # Odoo exits 0 on SIGTERM
    rule = next(v for k, v in labels.items() if k.endswith(".rule") and "websocket" not in k)
    for domain in site.domains.values_list("name", flat=True):
        assert f"Host(`{domain}`)" in rule
    assert labels["traefik.enable"] == "true" and labels["panel.site"] == site.slug
    assert any(k.endswith("loadbalancer.server.port") and v == "8069" for k, v in labels.items())
    assert any(k.endswith("sticky.cookie.httponly") and v == "true" for k, v in labels.items())
    db = inspect(f"{site.slug}_db")
    assert db["Spec"]["TaskTemplate"]["Placement"]["Constraints"] == [f"node.hostname=={site.db_node}"]
    cron = inspect(f"{site.slug}_cron")["Spec"]
    assert cron["Mode"]["Replicated"]["Replicas"] == 1
    assert any("--max-cron-threads=0" in a or a == "--max-cron-threads" for a in container["Args"])

    # The same checklist, read back from the live services, passes as a whole.
    services = docker_client.services.list(filters={"label": f"panel.site={site.slug}"})
    live = live_stack_summary([s.attrs for s in services])
    # Every item, soft ones included (sticky cookie flags, rollback settings, healthcheck timing),
    # but the Traefik network: these test sites set none (the demo site's test has one, all green).
    failing = [(r.key, r.reason) for r in preflight(spec_for(site), live) if not r.ok]
    assert [f for f in failing if f[0] != "traefik_network"] == [], failing
    assert "answer /web/health from inside" in log_text(job)


def test_new_image_under_the_same_tag_reaches_every_task(make_site, monkeypatch, docker_client, lab):  # type: ignore[no-untyped-def]
    site = make_site()
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    site.refresh_from_db()
    first = site.image_digest
    second = build_variant(docker_client, site.image, site.image, ["LABEL panel.test.version=2"])
    assert second != first
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error
    site.refresh_from_db()
    assert site.image_digest == second
    assert running_digests(docker_client, f"{site.slug}_odoo") == {second}


def running_count(docker_client, site) -> int:  # type: ignore[no-untyped-def]
    tasks = docker_client.api.tasks(filters={"service": f"{site.slug}_odoo", "desired-state": "running"})
    return sum(t["Status"]["State"] == "running" for t in tasks)


def test_failing_healthcheck_rolls_back_and_keeps_serving(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site()
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    site.refresh_from_db()
    good = site.image_digest
    # The new image's health check always fails (curl on PATH answers 7, as a dead /web/health would).
    build_variant(
        docker_client,
        site.image,
        site.image,
        ["RUN printf '#!/bin/sh\\nexit 7\\n' > /usr/local/bin/curl && chmod +x /usr/local/bin/curl"],
    )
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "failed"
    assert "roll" in job.error.lower() or "did not converge" in job.error

    # Swarm's rollback settles on its own time: both replicas back on the good digest.
    def settled() -> bool:
        digests = running_digests(docker_client, f"{site.slug}_odoo")
        return digests == {good} and running_count(docker_client, site) == 2

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not settled():
        time.sleep(2)
    assert running_digests(docker_client, f"{site.slug}_odoo") == {good}
    assert running_count(docker_client, site) == 2


def test_drift_names_a_removed_domain_and_reconcile_repairs(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site()
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    site.refresh_from_db()
    name = f"{site.slug}_odoo"
    labels = inspect(name)["Spec"]["Labels"]
    key = next(k for k in labels if k.endswith(".rule") and "websocket" not in k)
    kept = site.domains.order_by("name").first().name
    dropped = site.domains.order_by("name").last().name
    subprocess.run(
        ["docker", "service", "update", "--detach", "--label-add", f"{key}=Host(`{kept}`)", name],
        check=True,
        capture_output=True,
    )
    # While a job holds the site, what differs is its work, not drift: nothing is judged.
    Site.objects.filter(pk=site.pk).update(status=Site.Status.UPDATING)
    holder = factories.job(site, kind="module_update", state="running")
    assert inspection.check_drift(site) is not None
    site.refresh_from_db()
    assert (site.drift, site.status) == ([], Site.Status.UPDATING)
    # As beat finds it once that job has died and left the site marked "updating": the live state
    # decides.
    Job.objects.filter(pk=holder.pk).update(state="failed", finished_at=timezone.now())
    drift_one(site.cluster_id)
    site.refresh_from_db()
    assert any(dropped in d["message"] for d in site.drift), site.drift
    assert site.status == "degraded"
    job = run_inline(monkeypatch, "reconcile", site)
    assert job.state == "succeeded", job.error
    assert f"Host(`{dropped}`)" in inspect(name)["Spec"]["Labels"][key]
    assert inspection.check_drift(site).drift == []  # type: ignore[union-attr]


@pytest.mark.serial  # draining a node moves every other test's tasks off it
def test_drained_db_node_never_moves_the_database(make_site, monkeypatch, docker_client, lab):  # type: ignore[no-untyped-def]
    site = make_site(replicas=1)
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    node = docker_client.nodes.get(site.db_node)
    node.update({**node.attrs["Spec"], "Availability": "drain"})
    try:
        deadline = time.monotonic() + 90
        state = None
        while time.monotonic() < deadline:
            state = inspection.check_drift(Site.objects.get(pk=site.pk))
            if state and state.pending.get(f"{site.slug}_db"):
                break
            time.sleep(2)
        assert state and state.pending.get(f"{site.slug}_db"), state
        reason = " ".join(state.pending[f"{site.slug}_db"])
        assert "no suitable node" in reason or "constraint" in reason, reason
        tasks = docker_client.api.tasks(filters={"service": f"{site.slug}_db", "desired-state": "running"})
        assert not any(t["Status"]["State"] == "running" for t in tasks), "the database ran elsewhere"
        page_site = Site.objects.get(pk=site.pk)
        assert page_site.pending[f"{site.slug}_db"]
    finally:
        node.reload()
        node.update({**node.attrs["Spec"], "Availability": "active"})


def task_ids(docker_client, slug: str) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """The running tasks of each of the site's four services."""
    return {
        role: {
            t["ID"]
            for t in docker_client.api.tasks(
                filters={"service": f"{slug}_{role}", "desired-state": "running"}
            )
        }
        for role in ("db", "redis", "odoo", "cron")
    }


def test_a_redeploy_with_nothing_changed_restarts_nothing(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    """Issue 20: a second deploy of the same digest and settings sent specs that Swarm read as changed
    (fields rendered as {} where the engine stores nothing), and the database restarted."""
    site = make_site()
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    before = task_ids(docker_client, site.slug)
    versions = {r: docker_client.services.get(f"{site.slug}_{r}").attrs["Version"]["Index"] for r in before}
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert task_ids(docker_client, site.slug) == before, log_text(job)
    after = {r: docker_client.services.get(f"{site.slug}_{r}").attrs["Version"]["Index"] for r in before}
    assert after == versions, "an unchanged service was updated anyway"
    assert "unchanged" in log_text(job)
