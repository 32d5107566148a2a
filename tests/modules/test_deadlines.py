"""A module update ends its own `odoo -u` before Celery's soft time limit could interrupt the job in
the middle of it (that would leave modules `to upgrade`), with room to restart the site."""

from clusters.sites.quiet import HEALTHY_DEADLINE_S, STOP_DEADLINE_S, one_off_deadline


def test_the_update_deadline_fits_inside_the_job_time_limit(settings):  # type: ignore[no-untyped-def]
    for soft in (4 * 3600, 2 * 3600, 3600):
        settings.CELERY_TASK_SOFT_TIME_LIMIT = soft
        assert one_off_deadline() + STOP_DEADLINE_S + HEALTHY_DEADLINE_S < soft
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 4 * 3600
    assert one_off_deadline() >= 3 * 3600  # the default leaves a large database three hours
