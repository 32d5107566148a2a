"""Two operators click "Update modules" at once (issue 6): one job, and the other click is told which
job holds the site, with a link to it. The lock is PostgreSQL's partial unique index on unfinished
mutating jobs (jobs/locks.py), so the race is run for real: threads with their own connections,
released together by a barrier, several rounds.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.models import Site
from jobs import control
from jobs.locks import JobAlreadyRunning
from jobs.models import Job
from tests import factories

pytestmark = [pytest.mark.integration]

ROUNDS = 5


@pytest.fixture
def site(transactional_db, monkeypatch) -> Site:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(control, "enqueue", lambda job_id, task_id: None)  # no worker: the race is the point
    return factories.site(factories.cluster(), installed_modules={"shop_base": ["installed", "17.0.1.0.0"]})


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at the same instant; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_clicks_at_once_make_one_job(site):  # type: ignore[no-untyped-def]
    def click() -> Job:
        return control.start(
            "module_update", site=Site.objects.get(pk=site.pk), params={"modules": ["shop_base"]}
        )

    for _ in range(ROUNDS):
        results = race([click, click])
        jobs = [r for r in results if isinstance(r, Job)]
        refused = [r for r in results if isinstance(r, JobAlreadyRunning)]
        assert len(jobs) == 1 and len(refused) == 1, results
        assert refused[0].job is not None and refused[0].job.pk == jobs[0].pk  # the link goes to the winner
        assert "is already queued" in str(refused[0])
        assert Job.objects.filter(site=site, finished_at__isnull=True).count() == 1
        Job.objects.filter(pk=jobs[0].pk).update(state="succeeded", finished_at=timezone.now())  # next round
    assert Job.objects.filter(site=site).count() == ROUNDS


def test_two_confirms_on_the_page_make_one_job(site, personas):  # type: ignore[no-untyped-def]
    second = factories.user("erin", role="operator")
    clients = [personas.client("operator"), Client()]
    clients[1].force_login(second)
    url = reverse("site-update-modules", args=[site.slug])
    form = {"modules": ["shop_base"], "confirm": "yes", "backup": "on"}

    responses = race([functools.partial(c.post, url, form) for c in clients])

    assert [r.status_code for r in responses] == [302, 302], responses
    job = Job.objects.get(site=site)
    targets = sorted(r["Location"] for r in responses)
    assert targets == sorted([job.get_absolute_url(), site.get_absolute_url()])
    loser = clients[[r["Location"] for r in responses].index(site.get_absolute_url())]
    page = loser.get(site.get_absolute_url()).content.decode()
    assert "is already queued" in page and f'href="{job.get_absolute_url()}"' in page
    assert job.params == {"modules": ["shop_base"], "backup": True}
