"""The engine goes away in the middle of a module update (issue 6): the site's cluster is reached
through an engine proxy that the test stops while the site is at 0 replicas (Scale to 0, Update).

The job fails by itself (its worker lives) with an error that says what happened and when; it
cannot restore the replicas then, so the undo stays owed: it is not marked done, a new update of
the site is refused meanwhile (it would record 0 replicas and "restore" 0), and once the engine
answers again the reaper's next pass restores the replicas and removes the one-off task.
"""

from __future__ import annotations

import pytest

from jobs import control
from jobs.models import Job
from jobs.tasks import reap_jobs
from tests.modules.helpers import (
    healthy_before,
    job_inside,
    replicas,
    running_tasks,
    site_is_back,
    step_state,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.lab]


@pytest.mark.parametrize("step", ["Scale to 0", "Update"])
def test_engine_unreachable_mid_job(step, proxied_site, worker, reaper_settings, transactional_db):  # type: ignore[no-untyped-def]
    rows, proxy, client = proxied_site
    site = rows.restore()
    healthy_before(client, site.slug)
    job = control.start("module_update", site=site, params={"modules": ["shop_base"], "backup": False})
    try:
        wait_until(
            lambda: job_inside(client, job.pk, site.slug, step, proxy), 120, f"the job inside {step}", 0.05
        )
        proxy.stop()
        wait_until(lambda: Job.objects.get(pk=job.pk).finished_at, 60, "the job to end by itself")
        job.refresh_from_db()
        assert job.state == "failed"
        unreachable = f"cannot reach the engine at {proxy.endpoint}: is it running, is the address right?"
        assert job.error == f"{unreachable} (during {step})"
        assert step_state(job.pk, step) == "failed"
        # Nothing could be undone, and nothing is forgotten: the undo is owed, not marked done.
        assert job.compensated_at is None
        owed = {entry["action"] for entry in job.compensation}
        assert owed == (
            {"restore_replicas_all", "remove_service"} if step == "Update" else {"restore_replicas_all"}
        )
        assert replicas(client, f"{site.slug}_odoo") == 0  # seen directly: the site is down meanwhile
        reap_jobs()  # a reaper pass while the engine is away changes nothing
        assert Job.objects.get(pk=job.pk).compensated_at is None
    finally:
        if not proxy.is_running:
            proxy.start()

    # The engine is back (the update task, cut off from its job, ran to its end meanwhile). Before
    # the reaper's next pass, a new update is refused...
    wait_until(
        lambda: running_tasks(client, f"{site.slug}_update_j{job.pk}") == 0, 60, "the update task to end"
    )
    second = control.start("module_update", site=site, params={"modules": ["shop_base"], "backup": False})
    wait_until(lambda: Job.objects.get(pk=second.pk).finished_at, 120, "the second job to end")
    second.refresh_from_db()
    assert second.state == "failed" and "has not finished undoing" in second.error, second.error
    assert replicas(client, f"{site.slug}_odoo") == 0

    # ...and the reaper's next pass restores the site.
    def restored() -> bool:
        reap_jobs()
        return bool(Job.objects.get(pk=job.pk).compensated_at) and site_is_back(client, site.slug) == ""

    wait_until(restored, 60, "the replicas restored once the engine is back", every=1.0)
    job.refresh_from_db()
    assert job.compensation_result and all(o["ok"] for o in job.compensation_result), job.compensation_result
