"""The database step of a deploy on the lab's 19.0 stand-in, which implements `odoo db init` as 19
does (tests/real proves the same path on real Odoo): a database that could not be initialised is
dropped and the deploy names why; a database found initialised is adopted, nothing is run on it."""

import pytest

from clusters.models import Site
from clusters.sites.site_spec import spec_for
from clusters.stack.render import render_query_task
from clusters.swarm_ops import run_one_off
from tests.sites.jobrun import log_text, run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def databases(docker_client, site: Site) -> list[str]:  # type: ignore[no-untyped-def]
    spec = spec_for(site)
    task = render_query_task(spec, "SELECT datname FROM pg_database ORDER BY 1", "dbs", database="postgres")
    code, lines = run_one_off(docker_client, task, 120, print)
    assert code == 0, lines
    return lines


def test_a_failed_initialisation_drops_the_database_and_names_why(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    """`odoo db init` exits 0 when initialising failed (an unknown country here): the panel reads
    `CREATE DATABASE failed`, drops the half-made database, starts no replica, and says so."""
    site = make_site(image="odoo19", country="ZZ")
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "failed", log_text(job)
    assert "initialising the database" in job.error and "CREATE DATABASE failed" in job.error, job.error
    assert "IndexError" in job.error, job.error
    assert site.db_name not in databases(docker_client, site)
    assert docker_client.services.list(filters={"name": f"{site.slug}_odoo"}) == []
    site.refresh_from_db()
    assert site.database_origin == ""

    Site.objects.filter(pk=site.pk).update(country="BE")
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded", job.error + log_text(job)[-3000:]
    assert job.result["database"] == "initialised"


def test_an_initialised_database_is_adopted_as_it_is(make_site, monkeypatch, docker_client):  # type: ignore[no-untyped-def]
    site = make_site(image="odoo19")
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded" and job.result["database"] == "initialised", log_text(job)
    Site.objects.filter(pk=site.pk).update(database_origin="")  # a site row made for an existing database
    job = run_inline(monkeypatch, "deploy", site)
    assert job.state == "succeeded" and job.result["database"] == "adopted", log_text(job)
    assert "exists with base installed: adopted as it is, nothing initialised" in log_text(job)
    site.refresh_from_db()
    assert site.database_origin == Site.DatabaseOrigin.EXISTING
