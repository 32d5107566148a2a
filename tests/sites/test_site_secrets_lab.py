"""A deployed site shows no password to `docker service inspect` (issue 17): PostgreSQL and Odoo read
the database password from a Swarm secret file, Redis requires its own password from a secret
redis.conf, and the site still serves a login whose session both replicas share through that Redis.
Secrets no service reads any more are removed by the next deploy."""

import json
import subprocess
import uuid

import pytest

from clusters import swarm_ops as ops
from clusters.sites.site_spec import spec_for
from clusters.stack.one_off import render_image_task
from lab.edge import NETWORK, ensure_lab_edge
from lab.edge_client import edge_session
from panel.crypto import reveal
from tests.sites.jobrun import log_text, run_inline
from tests.sites.test_edge_lab import wait_routed

pytestmark = [pytest.mark.integration, pytest.mark.lab]
SESSION_REDIS_KEY = "ODOO_SESSION_REDIS_PASSWORD"


def inspect_text(name: str) -> str:
    out = subprocess.run(["docker", "service", "inspect", name], capture_output=True, text=True, check=True)
    return out.stdout


def without_session_redis_password(text: str, password: str) -> str:
    """The inspect output less the one entry that may hold the Redis password (session_redis has no
    file variant: clusters/stack/service_parts.session_env)."""
    return text.replace(f'"{SESSION_REDIS_KEY}={password}"', '"<session_redis>"')


def unauthenticated_ping(client, site) -> str:  # type: ignore[no-untyped-def]
    """redis-cli (in the site's image: the lab's base has it) against the site's Redis, from its
    network, with no password: what it printed."""
    script = f"redis-cli -h {site.slug}_redis ping; true"
    task = render_image_task(spec_for(site), "redisping", ["sh", "-c", script])
    code, lines = ops.run_one_off(client, task, 120, ops._quiet)
    assert code == 0, lines
    return "\n".join(lines)


def test_no_service_of_a_deployed_site_shows_a_password_and_it_still_serves_a_login(  # type: ignore[no-untyped-def]
    lab, lab_cluster, make_site, monkeypatch, docker_client
):
    ensure_lab_edge(lab_cluster, lab)
    edge = lab_cluster.edge
    site = make_site(replicas=2, traefik_network=NETWORK)  # the 17.0 stand-in: sessions in session_redis
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    site.refresh_from_db()
    db_password, redis_password = reveal(site.db_password), reveal(site.redis_password)
    assert db_password and redis_password and db_password != redis_password

    read: dict[str, set[str]] = {}
    for role in ("db", "redis", "odoo", "cron"):
        text = inspect_text(f"{site.slug}_{role}")
        assert db_password not in text, role
        assert redis_password not in without_session_redis_password(text, redis_password), role
        container = json.loads(text)[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
        read[role] = {s["File"]["Name"] for s in container.get("Secrets") or []}
    assert read == {
        "db": {"db_password"},
        "redis": {"redis.conf"},
        "odoo": {"db_password"},
        "cron": {"db_password"},
    }

    # Redis refuses a client without the password; its healthcheck (the service converged) and the
    # login below, whose session lives there, prove the site's own processes have it.
    assert "NOAUTH" in unauthenticated_ping(docker_client, site)

    domain = site.domains.values_list("name", flat=True)[0]
    wait_routed(edge.api_url, domain, servers=2)
    with edge_session() as http:
        assert http.get(f"https://{domain}/web/health", timeout=10).status_code == 200
        login = http.post(
            f"https://{domain}/web/login",
            data={"login": "admin", "password": reveal(site.admin_password)},
            allow_redirects=False,
            timeout=10,
        )
        assert login.status_code == 303 and "/web/login" not in login.headers["Location"], login.text[:300]
        session_id = http.cookies["session_id"]
    served = set()
    for _ in range(12):  # no sticky cookie: either replica, each reading the session from Redis
        with edge_session() as fresh:
            fresh.cookies.set("session_id", session_id, domain=domain)
            page = fresh.get(f"https://{domain}/web", allow_redirects=False, timeout=10)
            assert page.status_code == 200 and "user admin" in page.text, (page.status_code, page.text[:200])
            served.add(page.headers["X-Standin-Host"])
    assert len(served) == 2, served


def test_a_secret_no_service_reads_is_removed_by_the_next_deploy(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site(replicas=1)
    assert run_inline(monkeypatch, "deploy", site).state == "succeeded"
    labels = {"panel.managed": "true", "panel.site": site.slug, "panel.role": "site-secret"}
    stale = docker_client.secrets.create(
        name=f"{site.slug}_db_password-0000000000000000", data=b"old", labels=labels
    )
    in_use = {s.name for s in docker_client.secrets.list(filters={"label": f"panel.site={site.slug}"})} - {
        stale.name
    }
    assert len(in_use) == 2  # db_password and redis.conf

    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error
    left = {s.name for s in docker_client.secrets.list(filters={"label": f"panel.site={site.slug}"})}
    assert left == in_use
    assert f"secret {stale.name} removed" in log_text(job)


def test_two_jobs_making_the_same_secret_at_once_both_get_it(docker_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from clusters import swarm_secrets

    name = f"panel_test_race-{uuid.uuid4().hex[:12]}"
    labels = {"panel.test": "secret-race"}
    first = swarm_secrets.ensure(docker_client, {name: b"same content"}, labels)[name]
    try:
        # The second job listed before the first one created it: its create meets the engine's 409.
        real_named, listed = swarm_secrets._named, []

        def named_late(client, secret_name):  # type: ignore[no-untyped-def]
            listed.append(secret_name)
            return "" if len(listed) == 1 else real_named(client, secret_name)

        monkeypatch.setattr(swarm_secrets, "_named", named_late)
        assert swarm_secrets.ensure(docker_client, {name: b"same content"}, labels) == {name: first}
        assert len(listed) == 2  # listed, refused with 409, listed again
    finally:
        docker_client.secrets.get(first).remove()
