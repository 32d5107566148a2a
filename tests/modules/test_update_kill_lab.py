"""Crash safety of the module update (issue 6): the Celery worker running it is SIGKILLed at each step
in turn, and within 60 s the reaper (the beat task `jobs.reap`, run here every second as beat would,
on a 5 s heartbeat timeout) has failed the job and undone what it left: the site back at its
replicas, no one-off service (update, query, backup, checksum task) left.

One site serves every step (deployed once for this module). Its image makes each module update take
1 s, so the update task is seen running. Each kill is aimed, not hoped for:
- Record replicas is two inspect calls: the engine proxy parks the second one (GET <site>_cron)
  until the worker is dead;
- Check, Backup, Verify: killed while their one-off task exists (the one a finally would remove);
- Scale to 0: once the service is at 0; Update: while `odoo -u` runs; Restore replicas: while the
  replicas come back.
Update runs last: Odoo killed mid-update leaves modules `to upgrade` (as real Odoo does), which the
next update would rightly refuse.
"""

from __future__ import annotations

import time

import pytest

from jobs import control
from jobs.models import Job
from jobs.tasks import reap_jobs
from tests.modules.helpers import (
    healthy_before,
    job_inside,
    site_is_back,
    step_state,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.lab]

STEPS = ["Check", "Record replicas", "Backup", "Scale to 0", "Restore replicas", "Verify", "Update"]
BACK_WITHIN_S = 60


@pytest.mark.parametrize("step", STEPS)
def test_worker_killed_at_each_step(step, proxied_site, worker, reaper_settings, transactional_db):  # type: ignore[no-untyped-def]
    rows, proxy, client = proxied_site
    site = rows.restore()
    healthy_before(client, site.slug)
    if step == "Record replicas":
        proxy.hold(rf"GET /v[\d.]+/services/{site.slug}_cron[ ?]")
    job = control.start("module_update", site=site, params={"modules": ["shop_base"]})
    try:
        wait_until(
            lambda: job_inside(client, job.pk, site.slug, step, proxy), 180, f"the job inside {step}", 0.05
        )
        worker.kill()
    finally:
        proxy.release()
    killed = time.monotonic()

    def undone() -> bool:
        reap_jobs()  # what beat sends every 10 s; any live worker runs it
        row = Job.objects.get(pk=job.pk)
        return bool(row.finished_at and row.compensated_at and site_is_back(client, site.slug) == "")

    try:
        wait_until(undone, BACK_WITHIN_S, f"the site back after a kill in {step}", every=1.0)
    except AssertionError:
        pytest.fail(f"{step}: {site_is_back(client, site.slug)}; job: {Job.objects.get(pk=job.pk).error}")
    elapsed = time.monotonic() - killed
    job.refresh_from_db()
    assert job.state == "failed" and "worker died" in job.error, job.error
    assert step_state(job.pk, step) == "failed"  # the kill landed in that step
    assert all(outcome["ok"] for outcome in job.compensation_result), job.compensation_result
    print(f"killed in {step}: back in {elapsed:.1f} s; undone: {job.compensation_result}")
