"""A deploy reads what the image carries before it changes anything: a `--load` module the image
lacks, or one written for another Odoo series, is refused with the fix (on Odoo 19 either would
answer 500 to every page while /web/health stays green)."""

import pytest

from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def services_of(docker_client, slug: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.name for s in docker_client.services.list(filters={"label": f"panel.site={slug}"})]


def refused(monkeypatch, site, docker_client) -> str:  # type: ignore[no-untyped-def]
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "failed", log_text(job)[-3000:]
    steps = {s["name"]: s["state"] for s in job.steps}
    assert steps["Image check"] == "failed" and steps["Database and Redis"] == "skipped", steps
    assert services_of(docker_client, site.slug) == []  # nothing was created
    return str(job.error)


def test_a_19_image_without_session_redis_is_refused(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site(image="odoo19", session_store="session_redis")  # the image carries session_db only
    error = refused(monkeypatch, site, docker_client)
    assert "no session_redis addon on its addons path" in error and "500 to every page" in error


def test_a_session_store_for_another_series_is_refused(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site(series="19.0")  # a 17.0 image said to be 19.0: its session_db is the 17.0 release
    error = refused(monkeypatch, site, docker_client)
    assert "session_db is version 17.0.1.0.0, written for Odoo 17.0, not the site's 19.0" in error
