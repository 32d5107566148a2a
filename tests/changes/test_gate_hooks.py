"""The module update refuses modules whose latest manifest change for the site is not approved."""

from __future__ import annotations

import pytest

from clusters.approvals import services
from clusters.approvals.update_check import unapproved_changes
from clusters.sites.module_update.update import check_request
from jobs.runner import JobFailed
from tests import factories

pytestmark = pytest.mark.django_db


def check(site, modules=("report_xlsx", "mis_builder")):  # type: ignore[no-untyped-def]
    return check_request(site, list(modules), site.installed_modules)


def test_pending_blocked_and_rejected_changes_refuse_their_modules(personas, site, make_change):
    bob, carol = personas.users["operator"], personas.users["approver"]
    assert set(check(site)) == {"report_xlsx", "mis_builder"}
    pending = make_change(bob)
    with pytest.raises(JobFailed, match=rf"report_xlsx \(change #{pending.pk}, pending\)"):
        check(site)
    check(site, ["mis_builder"])  # not part of the change
    services.reject(pending.pk, carol)
    with pytest.raises(JobFailed, match="rejected"):
        check(site)
    blocked = make_change(bob, depends=["base", "sale_subscription"])
    with pytest.raises(JobFailed, match=rf"change #{blocked.pk}, blocked"):
        check(site)


def test_approved_or_overridden_latest_change_passes(personas, site, make_change):
    bob, carol, dave = (personas.users[r] for r in ("operator", "approver", "admin"))
    services.approve(make_change(bob).pk, carol)
    assert "report_xlsx" in check(site)
    blocked = make_change(bob, depends=["base", "sale_subscription"])
    with pytest.raises(JobFailed):
        check(site)  # the newer change is the one that counts, not the approved older one
    services.override(blocked.pk, dave, "installed by hand before the update, ticket 42")
    assert "report_xlsx" in check(site)
    assert unapproved_changes(site, ("report_xlsx",)) == []


def test_changes_of_another_site_do_not_count(personas, site, make_change, installed_rows):
    other = factories.site(
        site.cluster, slug="other", installed_modules=installed_rows, modules_read_at=site.modules_read_at
    )
    make_change(personas.users["operator"], target=other)
    assert unapproved_changes(site, ("report_xlsx",)) == []
    assert unapproved_changes(other, ("report_xlsx",)) != []
