"""Real Odoo 19 on the lab (issue 20): a site on the real image works from its first deploy, and the
panel's module jobs hold on it. The stand-in is a fixture held to Odoo's behaviour; these tests are
where real Odoo decides.

One site for the whole module (a real first deploy and an install cost about a minute): the lab's
real Odoo 19 image (lab/images/odoo19-real, built from ../shared/odoo-19) with a user's addon on top
(lab_note, lab/site_images.py), deployed by the panel's own deploy job from nothing: no database,
a filestore folder made by root. Each test leaves the site on its good image.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import docker
import pytest
from django.test import override_settings

from clusters import swarm_ops as ops
from clusters.approvals import services
from clusters.models import Cluster, Site
from clusters.sites.neutralized_copy import drop_copy, neutralized_copy, read_neutralization
from clusters.sites.site_spec import spec_for
from clusters.stack.render import render, render_probe_task
from jobs.models import Job
from lab import site_images
from lab.api import LabInfo
from lab.edge import API_URL, NETWORK, ensure_lab_edge
from lab.edge_client import edge_session
from panel.crypto import reveal
from tests import factories
from tests.lab.test_seed_failures_lab import ALTERNATING, TWO_TASKS, spread, task_nodes
from tests.modules.helpers import SiteRows, site_is_back, wait_until
from tests.sites.conftest import new_lab_site, remove_site_objects
from tests.sites.jobrun import log_text, run_inline
from tests.sites.test_deploy_lab import running_digests
from tests.sites.test_edge_lab import wait_routed

pytestmark = [pytest.mark.integration, pytest.mark.lab, pytest.mark.real_odoo]

REAL = "odoo19-real"
NOTE_V1 = site_images.user_addon_text("lab_note/__manifest__.py")

# Runs in the real image (sh, curl, getent, awk, sed) on the site's network against the two Odoo
# tasks: a login as Odoo's own form does it (GET for the CSRF token, POST with it), then the web
# client 20 times with that session, alternating between the replicas. One `key value` line each.
EXCHANGE = (
    TWO_TASKS
    + r"""for ip in $a $b; do
  n=0
  until [ "$(curl -s -o /dev/null -m 10 -w '%{http_code}' "http://$ip:8069/web/login")" = 200 ]; do
    n=$((n + 1)); [ $n -lt 60 ] || { echo "error $ip never served /web/login"; exit 3; }; sleep 1
  done
done
jar=/tmp/jar
curl -s -m 20 -c $jar -b $jar "http://$a:8069/web/login" > /tmp/form
csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' /tmp/form | head -n 1)
echo "csrf ${#csrf}"
wrong=$(curl -s -o /tmp/wrong -m 20 -c /tmp/jar2 -b $jar -w '%{http_code}' \
  --data-urlencode "csrf_token=$csrf" --data-urlencode login=admin --data-urlencode password=admin "http://$a:8069/web/login")
echo "admin_admin $wrong $(grep -c 'Wrong login/password' /tmp/wrong)"
code=$(curl -s -o /dev/null -m 20 -c $jar -b $jar -w '%{http_code} %{redirect_url}' \
  --data-urlencode "csrf_token=$csrf" --data-urlencode login=admin \
  --data-urlencode "password=$ADMIN_PASSWORD" "http://$a:8069/web/login")
echo "login_a $code"
sid=$(awk '$6 == "session_id" {print $7}' $jar | tail -n 1)
WEB=/odoo
"""
    + ALTERNATING
)


@dataclass
class RealSite:
    rows: SiteRows
    first_deploy: dict[str, Any]  # the first deploy job: state, error, result, log
    good_digest: str


def note_files(manifest: str = NOTE_V1, notes: str | None = None) -> dict[str, bytes]:
    """lab_note's files with another manifest or data (build-context paths)."""
    overrides = {"addons/lab_note/__manifest__.py": manifest.encode()}
    if notes is not None:
        overrides["addons/lab_note/data/notes.xml"] = notes.encode()
    return overrides


def push_site_image(
    lab: LabInfo, client: docker.DockerClient, site: Site, overrides: dict[str, bytes]
) -> str:
    """The site's image as a user builds it: the real Odoo image with their addons in /mnt/extra-addons."""
    return site_images.push_site_image(client, lab.image(REAL).ref, site.image, overrides)


def job_facts(job: Job) -> dict[str, Any]:
    return {"state": job.state, "error": job.error, "result": job.result, "log": log_text(job)}


def done(job: Job) -> str:
    return f"{job.state}: {job.error}\n" + log_text(job)[-4000:]


@pytest.fixture(scope="module")
def real_site(lab, private_redis, django_db_setup, django_db_blocker) -> Iterator[RealSite]:  # type: ignore[no-untyped-def]
    client = docker.DockerClient(base_url=lab.manager_socket)
    slug = ""
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(JOB_LOG_REDIS_URL=private_redis.url(0), JOB_HEARTBEAT_SECONDS=1),
            pytest.MonkeyPatch.context() as mp,
        ):
            cluster = Cluster.objects.create(
                name=f"lab-real-{uuid.uuid4().hex[:8]}", endpoint=lab.manager_socket, is_lab=True
            )
            ensure_lab_edge(cluster, lab)  # its domains are reached through the lab's real Traefik
            site = new_lab_site(lab, client, cluster, replicas=2, image=REAL, traefik_network=NETWORK)
            slug = site.slug
            push_site_image(lab, client, site, note_files())
            first = job_facts(run_inline(mp, "deploy", site))
            site.refresh_from_db()
            if first["state"] == "succeeded":
                job = run_inline(mp, "module_install", site, modules=["lab_note"], backup=False)
                assert job.state == "succeeded", done(job)
                site.refresh_from_db()
            yield RealSite(SiteRows.of(site), first, site.image_digest)
    finally:
        if slug:
            remove_site_objects(client, slug, lab)
        client.close()


@pytest.fixture
def site(real_site: RealSite, transactional_db, docker_client) -> Site:  # type: ignore[no-untyped-def]
    assert real_site.first_deploy["state"] == "succeeded", real_site.first_deploy["log"][-4000:]
    site = real_site.rows.restore()
    wait_until(lambda: site_is_back(docker_client, site.slug) == "", 120, f"{site.slug} to run its replicas")
    return site


def exchange(client: docker.DockerClient, site: Site) -> dict[str, list[str]]:
    spec = spec_for(site)
    odoo = render(spec).service("odoo").name
    task = replace(
        render_probe_task(spec, "real"),
        command=["sh", "-c", EXCHANGE],
        env={"SVC": odoo, "ADMIN_PASSWORD": reveal(site.admin_password)},
    )
    code, lines = ops.run_one_off(client, task, 300, print)
    assert code == 0, "\n".join(lines)
    return {key: rest for key, *rest in (line.split() for line in lines if line.strip())}


def test_a_new_site_on_real_odoo_works_from_its_first_deploy(real_site, site, docker_client):  # type: ignore[no-untyped-def]
    """From nothing to a login shared by two replicas on two nodes, with no step by hand: the panel read
    the image (uid 101, 19.0), gave it the filestore, initialised the database with a password of its
    own, and no replica started before that."""
    first = real_site.first_deploy
    assert first["result"]["database"] == "initialised", first["log"][-3000:]
    log = first["log"]
    assert "the image runs as uid 101:101; odoo --version: Odoo Server 19.0" in log
    assert "was missing: initialised, admin password set" in log
    assert log.index("✓ Initialise database") < log.index("▶ Odoo and cron")
    assert site.database_origin == Site.DatabaseOrigin.PANEL
    assert site.image_facts["uid"] == 101 and site.image_facts["version"].startswith("Odoo Server 19.0")
    owner = os.stat(site.bind_path)
    assert (owner.st_uid, owner.st_gid) == (101, 101)

    odoo = f"{site.slug}_odoo"
    spread(docker_client, odoo)
    out = exchange(docker_client, site)
    nodes = task_nodes(docker_client, odoo, spec_for(site).network_name)
    assert len(set(nodes.values())) == 2, nodes
    assert out["csrf"][0] != "0", out
    assert out["admin_admin"] == ["200", "1"], f"Odoo's default password must not open the site: {out}"
    assert out["login_a"][0] == "303" and out["alternating"] == ["20"], out


def test_a_login_through_the_edge_holds_on_both_replicas(site, docker_client):  # type: ignore[no-untyped-def]
    """As a browser: through the lab's Traefik (its domain, SNI), Odoo's own login form, then the web
    client 20 times without the sticky cookie, so that Traefik spreads the requests over both
    replicas: the session is in the database (session_db), no request bounces to the login page."""
    domain = site.domains.order_by("name").first().name
    wait_routed(API_URL, domain, servers=2, within_s=120)
    base = f"https://{domain}"
    with edge_session() as http:
        form = http.get(f"{base}/web/login", timeout=30)
        assert form.status_code == 200, form.status_code
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf, form.text[:500]
        login = http.post(
            f"{base}/web/login",
            data={"csrf_token": csrf[1], "login": "admin", "password": reveal(site.admin_password)},
            allow_redirects=False,
            timeout=30,
        )
        assert login.status_code == 303 and "/web/login" not in login.headers["Location"], login.headers
        served = []
        for _ in range(20):
            http.cookies.pop(site.sticky_cookie, None)  # Traefik then picks a replica by round robin
            page = http.get(f"{base}/odoo", allow_redirects=False, timeout=30)
            served.append(page.status_code)
    assert served == [200] * 20, f"a request bounced to the login page: {served}"


def test_a_neutralized_copy_of_the_database_while_the_site_serves(site, docker_client):  # type: ignore[no-untyped-def]
    """The ground of a rehearsal: production's database copied while it serves, neutralized by the
    image's own `odoo neutralize`, and read back (mail servers, crons, the flag). Production keeps
    its crons and carries no flag."""
    spec = spec_for(site)
    copy = f"{spec.db_name}_rehearsal"
    try:
        result = neutralized_copy(docker_client, spec, "rehearsal", "t", print)
        assert result.database == copy and result.ok, result.problems()
        production = read_neutralization(docker_client, spec, spec.db_name, "t", print)
        assert production.flag == "" and production.crons > 0, production
        assert site_is_back(docker_client, site.slug) == "", "the site stopped serving"
    finally:
        drop_copy(docker_client, spec, copy, "t", print)


def test_module_update_on_real_odoo_and_a_failing_one_names_its_cause(  # type: ignore[no-untyped-def]
    real_site, site, lab, docker_client, monkeypatch
):
    """A new version of lab_note updates (downtime measured); a version whose data names a field the
    model lacks fails on real Odoo (exit 255): the job names lab_note and Odoo's reason, and the
    replicas come back on the image that served."""
    v2 = NOTE_V1.replace('"19.0.1.0.0"', '"19.0.1.0.1"')
    try:
        push_site_image(lab, docker_client, site, note_files(v2))
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "succeeded", done(job)
        job = run_inline(monkeypatch, "module_update", site, modules=["lab_note"], backup=False)
        assert job.state == "succeeded", done(job)
        site.refresh_from_db()
        assert site.installed_modules["lab_note"] == ["installed", "19.0.1.0.1"], done(job)
        real_site.good_digest = site.image_digest  # the database now holds 1.0.1: its image is the good one
        real_site.rows = SiteRows.of(site)

        broken = site_images.user_addon_text("lab_note/data/notes.xml").replace(
            '<field name="name">First</field>', '<field name="name">First</field><field name="nope">x</field>'
        )
        push_site_image(lab, docker_client, site, note_files(v2.replace("1.0.1", "1.0.2"), broken))
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "succeeded", done(job)
        job = run_inline(monkeypatch, "module_update", site, modules=["lab_note"], backup=False)
        assert job.state == "failed", done(job)
        assert "lab_note" in job.error and re.search(r"nope|Invalid field", job.error), job.error
        assert "✗ Update" in log_text(job) and "✓ Update" not in log_text(job)
        wait_until(lambda: site_is_back(docker_client, site.slug) == "", 120, "replicas restored")
    finally:
        restore_good_image(lab, docker_client, site, real_site, monkeypatch)


def test_an_image_whose_addon_needs_a_missing_module_never_serves(  # type: ignore[no-untyped-def]
    real_site, site, lab, docker_client, monkeypatch
):
    """lab_note, installed, now depends on a module no addons path holds. The gate refuses the image
    before anything changes; forced through by an admin, the boot judge reads real Odoo skip lab_note
    and rolls the replicas back to the digest that served."""
    needs = NOTE_V1.replace('"depends": ["base"]', '"depends": ["base", "lab_missing"]')
    needs = needs.replace('"19.0.1.0.0"', '"19.0.1.1.0"')  # newer than any test installed
    try:
        push_site_image(lab, docker_client, site, note_files(needs))
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "failed" and "approval gate blocks" in job.error, done(job)
        change = re.search(r"manifest change #(\d+)", job.error)
        assert change, job.error
        admin = factories.user("real-admin", role="admin")
        services.override(int(change[1]), admin, "the boot judge decides")
        job = run_inline(monkeypatch, "deploy", site)
        assert job.state == "failed", done(job)
        assert "lab_note" in job.error and "lab_missing" in job.error, job.error
        odoo = f"{site.slug}_odoo"
        good = real_site.good_digest
        wait_until(
            lambda: running_digests(docker_client, odoo) == {good}, 180, "the rollback to the good digest"
        )
    finally:
        restore_good_image(lab, docker_client, site, real_site, monkeypatch)


def restore_good_image(  # type: ignore[no-untyped-def]
    lab: LabInfo, client: docker.DockerClient, site: Site, real_site: RealSite, mp
) -> None:
    """The site's tag back on the good image, deployed (the next test starts from it)."""
    good = f"{site.image.rpartition(':')[0]}@{real_site.good_digest}"
    image = client.images.pull(good)
    repo, _, tag = site.image.rpartition(":")
    image.tag(repo, tag)
    for _ in client.images.push(repo, tag=tag, stream=True, decode=True):
        pass
    Site.objects.filter(pk=site.pk).update(status=Site.Status.DEGRADED)
    job = run_inline(mp, "deploy", site)
    assert job.state == "succeeded", done(job)
