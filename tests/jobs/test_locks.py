"""One mutating job per site, from any number of concurrent clicks (real concurrency on PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from jobs.control import start
from jobs.locks import JobAlreadyRunning
from jobs.models import Job, State
from tests import factories
from tests.jobs.helpers import user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_concurrent_starts_make_exactly_one_job():
    site = factories.site(factories.cluster())
    users = [user("bob"), user("dave", "admin")] * 4
    barrier = threading.Barrier(len(users))
    started: list[Job] = []
    refused: list[JobAlreadyRunning] = []
    errors: list[BaseException] = []

    def click(user) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(5)
            started.append(start("test.hold", site=site, user=user, params={"seconds": 1}))
        except JobAlreadyRunning as exc:
            refused.append(exc)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert len(started) == 1 and len(refused) == len(users) - 1
    assert Job.objects.filter(site=site).count() == 1
    winner = started[0]
    assert {exc.job.pk for exc in refused if exc.job} == {winner.pk}
    assert "already queued" in str(refused[0]) or "already running" in str(refused[0])


def test_the_lock_is_released_when_the_job_finishes():
    site = factories.site(factories.cluster())
    first = start("test.hold", site=site, user=user("bob"))
    with pytest.raises(JobAlreadyRunning) as caught:
        start("test.hold", site=site, user=user("dave", "admin"))
    assert caught.value.job == first
    Job.objects.filter(pk=first.pk).update(state=State.FAILED)  # ended, but still undoing: still held
    with pytest.raises(JobAlreadyRunning):
        start("test.hold", site=site)
    Job.objects.filter(pk=first.pk).update(finished_at=first.created_at)
    assert start("test.hold", site=site).pk != first.pk


def test_read_only_jobs_and_other_sites_do_not_block():
    site, other = factories.site(factories.cluster()), factories.site(factories.cluster())
    start("test.hold", site=site)
    start("test.lines", site=site)  # not mutating
    start("test.lines", site=site)
    start("test.hold", site=other)
    assert Job.objects.filter(site=site).count() == 3


def test_start_records_who_and_enqueues_after_commit(private_redis):
    import redis

    broker = redis.Redis.from_url(private_redis.url(1))
    broker.flushdb()
    site = factories.site(factories.cluster())
    bob = user("bob")
    job = start("test.hold", site=site, user=bob, params={"seconds": 0})
    assert (job.created_by, job.created_by_name, job.state) == (bob, "bob", State.QUEUED)
    assert job.celery_task_id and job.mutating and job.site_slug == site.slug
    queued = b"".join(broker.lrange("celery", 0, -1))
    assert job.celery_task_id.encode() in queued


def test_one_deploy_of_a_clusters_edge_at_a_time():
    """Two deploys of one Traefik service would race (the engine answers "update out of sequence")."""
    cluster, other = factories.cluster(), factories.cluster()
    admin = user("dave", "admin")
    first = start("edge_deploy", cluster=cluster, user=admin)
    with pytest.raises(JobAlreadyRunning) as caught:
        start("edge_deploy", cluster=cluster, user=admin)
    assert caught.value.job == first and cluster.name in str(caught.value)
    start("edge_deploy", cluster=other, user=admin)  # another cluster's edge is another service
    Job.objects.filter(pk=first.pk).update(finished_at=first.created_at)
    assert start("edge_deploy", cluster=cluster, user=admin).pk != first.pk
