"""Four eyes, and no approval of a blocked change: the rules the models and views rely on."""

from __future__ import annotations

import pytest

from clusters.approvals.gate import workflow as wf


def test_initial_state_follows_the_verdict() -> None:
    assert wf.initial_state({"passes": True}) == wf.PENDING
    assert wf.initial_state({"passes": False}) == wf.BLOCKED


def test_self_approval_is_refused() -> None:
    with pytest.raises(wf.WorkflowError, match="someone else must approve"):
        wf.check_approve(wf.PENDING, "alice", "alice")
    assert wf.check_approve(wf.PENDING, "alice", "bob") == wf.APPROVED


def test_blocked_cannot_be_approved_only_overridden_with_a_reason() -> None:
    with pytest.raises(wf.WorkflowError, match="cannot be approved"):
        wf.check_approve(wf.BLOCKED, "alice", "bob")
    with pytest.raises(wf.WorkflowError, match="write why"):
        wf.check_override(wf.BLOCKED, "alice", "carol", True, "  ")
    with pytest.raises(wf.WorkflowError, match="only an admin"):
        wf.check_override(wf.BLOCKED, "alice", "bob", False, "sale_subscription ships in the next image")
    with pytest.raises(wf.WorkflowError, match="another admin"):
        wf.check_override(wf.BLOCKED, "carol", "carol", True, "sale_subscription ships in the next image")
    assert (
        wf.check_override(wf.BLOCKED, "alice", "carol", True, "installed by hand at 10:00") == wf.OVERRIDDEN
    )


def test_decided_changes_stay_decided_and_only_approved_ones_update() -> None:
    with pytest.raises(wf.WorkflowError, match="already approved"):
        wf.check_approve(wf.APPROVED, "alice", "bob")
    with pytest.raises(wf.WorkflowError, match="already rejected"):
        wf.check_reject(wf.REJECTED)
    assert wf.check_reject(wf.BLOCKED) == wf.REJECTED
    assert [
        s for s in (wf.PENDING, wf.BLOCKED, wf.APPROVED, wf.REJECTED, wf.OVERRIDDEN) if wf.may_update(s)
    ] == [
        wf.APPROVED,
        wf.OVERRIDDEN,
    ]
