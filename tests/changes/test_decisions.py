"""Four eyes, blocked changes, overrides in writing: through the services and through the pages.
Every decision leaves exactly one audit event; a refused one leaves none and changes nothing."""

from __future__ import annotations

import html

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from clusters.approvals import services
from clusters.approvals.gate.workflow import WorkflowError
from clusters.approvals.models import Decision, ManifestChange
from panel.models import AuditEvent
from panel.roles import assign_role

pytestmark = pytest.mark.django_db


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_passing_change_is_approved_by_a_second_user_never_by_its_submitter(personas, make_change):
    bob, carol = personas.users["operator"], personas.users["approver"]
    change = make_change(bob)
    assert change.state == "pending"
    page = personas.client("operator").get(change.get_absolute_url()).content.decode()
    assert reverse("change-approve", args=[change.pk]) not in page  # no button for bob
    with pytest.raises(PermissionDenied):
        services.approve(change.pk, bob)  # an operator may not approve at all
    assign_role(bob, "approver")  # ... and promoted, still not his own change
    bob = type(bob).objects.get(pk=bob.pk)  # drop the cached permissions
    with pytest.raises(WorkflowError, match="someone else must approve"):
        services.approve(change.pk, bob)
    bob_client = personas.client("operator")
    bob_client.force_login(bob)
    page = bob_client.get(change.get_absolute_url()).content.decode()
    assert reverse("change-approve", args=[change.pk]) not in page
    assert "You submitted this change: someone else must approve it" in page
    response = bob_client.post(reverse("change-approve", args=[change.pk]), {"confirm": "yes"})
    assert response.status_code == 409 and "someone else must approve" in response.content.decode()
    assert ManifestChange.objects.get().state == "pending" and events("manifest.approve") == 0

    carol_client = personas.client("approver")
    page = carol_client.get(change.get_absolute_url()).content.decode()
    assert reverse("change-approve", args=[change.pk]) in page
    confirm = carol_client.get(reverse("change-approve", args=[change.pk]))
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.content.decode()
    assert ManifestChange.objects.get().state == "pending"  # the GET only asks
    response = carol_client.post(reverse("change-approve", args=[change.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.state == "approved" and change.may_update
    decision = Decision.objects.get()
    assert (decision.kind, decision.actor, decision.state_before) == ("approve", carol, "pending")
    event = AuditEvent.objects.get(action="manifest.approve")
    assert event.actor_username == "carol" and event.before == {"state": "pending"}
    bound = {"image_digest": "", "manifest_fingerprint": change.manifest_fingerprint}  # acme runs no image
    assert event.after == {"state": "approved", **bound} and event.site_slug == "acme"
    with pytest.raises(WorkflowError, match="already approved"):
        services.approve(change.pk, personas.users["admin"])
    assert events("manifest.approve") == 1


def test_blocked_change_cannot_be_approved(personas, make_change):
    change = make_change(personas.users["operator"], depends=["base", "sale_subscription"])
    assert change.state == "blocked"
    page = personas.client("approver").get(change.get_absolute_url()).content.decode()
    assert reverse("change-approve", args=[change.pk]) not in page
    assert reverse("change-override", args=[change.pk]) not in page  # carol is no admin
    response = personas.client("approver").post(
        reverse("change-approve", args=[change.pk]), {"confirm": "yes"}
    )
    assert response.status_code == 409 and "cannot be approved" in response.content.decode()
    with pytest.raises(WorkflowError):
        services.approve(change.pk, personas.users["admin"])
    assert ManifestChange.objects.get().state == "blocked" and events("manifest.approve") == 0


def test_override_needs_an_admin_and_a_written_reason(personas, make_change):
    change = make_change(personas.users["operator"], depends=["base", "sale_subscription"])
    url = reverse("change-override", args=[change.pk])
    assert personas.client("approver").post(url, {"confirm": "yes", "reason": "x" * 40}).status_code == 403
    admin = personas.client("admin")
    assert url in admin.get(change.get_absolute_url()).content.decode()
    for reason in ("", "   ", "because"):
        response = admin.post(url, {"confirm": "yes", "reason": reason})
        assert (
            response.status_code == 409 and "write why the block is overridden" in response.content.decode()
        )
    with pytest.raises(WorkflowError, match="write why"):
        services.override(change.pk, personas.users["admin"], "")
    assert ManifestChange.objects.get().state == "blocked" and events("manifest.override") == 0

    reason = "sale_subscription is installed by tonight's release, before this update runs"
    response = admin.post(url, {"confirm": "yes", "reason": reason})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.state == "overridden" and change.may_update
    assert change.get_state_display() == "Approved (overridden)"
    event = AuditEvent.objects.get(action="manifest.override")
    assert event.actor_username == "dave" and event.detail == reason
    bound = {"image_digest": "", "manifest_fingerprint": change.manifest_fingerprint}
    assert event.before == {"state": "blocked"} and event.after == {
        "state": "overridden",
        "reason": reason,
        **bound,
    }
    assert Decision.objects.get().reason == reason
    page = personas.client("viewer").get(change.get_absolute_url()).content.decode()
    assert html.escape(reason) in page and "Approved (overridden)" in page


def test_an_admin_cannot_override_their_own_change(personas, make_change):
    dave = personas.users["admin"]
    change = make_change(dave, depends=["base", "sale_subscription"])
    assert (
        reverse("change-override", args=[change.pk])
        not in personas.client("admin").get(change.get_absolute_url()).content.decode()
    )
    with pytest.raises(WorkflowError, match="another admin"):
        services.override(change.pk, dave, "I know what I am doing, trust me")
    assert events("manifest.override") == 0


def test_reject_pending_and_blocked_once_each(personas, make_change):
    carol = personas.users["approver"]
    pending = make_change(personas.users["operator"])
    blocked = make_change(personas.users["operator"], depends=["base", "sale_subscription"])
    client = personas.client("approver")
    for change in (pending, blocked):
        response = client.post(
            reverse("change-reject", args=[change.pk]), {"confirm": "yes", "reason": "not now"}
        )
        assert response.status_code == 302
        change.refresh_from_db()
        assert change.state == "rejected"
    assert events("manifest.reject") == 2
    with pytest.raises(WorkflowError, match="already rejected"):
        services.reject(pending.pk, carol)
    assert events("manifest.reject") == 2
    with pytest.raises(PermissionDenied):
        services.reject(pending.pk, personas.users["operator"])


def test_each_decision_leaves_exactly_one_audit_event(personas, make_change):
    bob, carol, dave = (personas.users[r] for r in ("operator", "approver", "admin"))
    a, b, c = make_change(bob), make_change(bob), make_change(bob, depends=["sale_subscription"])
    total = AuditEvent.objects.count()
    services.approve(a.pk, carol)
    services.reject(b.pk, carol, "wrong branch")
    services.override(c.pk, dave, "installed by hand on 2026-11-30, see ticket 42")
    assert AuditEvent.objects.count() == total + 3
    assert Decision.objects.count() == 3
