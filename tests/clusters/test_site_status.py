"""The status a drift check stores: what the live state says, whatever a job that has ended left
(a job whose worker died must not leave a site looking busy forever). While a job holds the site
check_drift stores no verdict at all (tests/sites/test_deploy_lab.py)."""

import pytest

from clusters.models import Site
from clusters.sites.inspection import SiteState, _status
from clusters.stack import Drift
from tests import factories

pytestmark = pytest.mark.django_db

BUSY = (Site.Status.DEPLOYING, Site.Status.UPDATING)


def site(status: str = Site.Status.HEALTHY) -> Site:
    return factories.site(factories.cluster(), replicas=2, status=status)


def live(running: int, drift: bool = False) -> SiteState:
    found = [Drift("x_odoo", "replicas", expected=2, actual=1, message="replicas 1, should be 2")]
    return SiteState(deployed=True, live={}, running=running, drift=found if drift else [])


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (live(2), Site.Status.HEALTHY),
        (live(1), Site.Status.DEGRADED),
        (live(2, drift=True), Site.Status.DEGRADED),
        (live(0), Site.Status.DOWN),
    ],
)
@pytest.mark.parametrize("stored", [Site.Status.HEALTHY, *BUSY])
def test_without_a_running_job_the_live_state_decides(stored, state, expected):  # type: ignore[no-untyped-def]
    row = site(stored)
    factories.job(row, kind="module_update", state="failed")  # e.g. reaped after its worker died
    assert _status(row, state) == expected


def test_a_site_never_deployed_keeps_its_status():  # type: ignore[no-untyped-def]
    row = site(Site.Status.NEW)
    assert _status(row, SiteState(deployed=False, live={})) == Site.Status.NEW
