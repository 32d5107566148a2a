"""The approval rules of a manifest change, as pure functions, so models, views and the API agree.

States: blocked (the verdict failed: cannot be approved, only overridden by an admin with a written
reason), pending (the verdict passed: waits for four eyes), approved, rejected, overridden. The submitter
never approves their own change. The caller records each decision in the
audit log; these functions only say yes or why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BLOCKED, PENDING, APPROVED, REJECTED, OVERRIDDEN = "blocked", "pending", "approved", "rejected", "overridden"
MIN_REASON_CHARS = 10


class WorkflowError(Exception):
    """A decision the rules refuse; the message is shown to the user as is."""


def initial_state(verdict: Mapping[str, Any]) -> str:
    return PENDING if verdict["passes"] else BLOCKED


def check_approve(state: str, submitter: str, approver: str) -> str:
    """New state after an approval, or WorkflowError."""
    if state == BLOCKED:
        raise WorkflowError("a blocked change cannot be approved; an admin may override it with a reason")
    if state != PENDING:
        raise WorkflowError(f"the change is already {state}")
    if submitter == approver:
        raise WorkflowError("you submitted this change: someone else must approve it")
    return APPROVED


def check_reject(state: str) -> str:
    if state not in (PENDING, BLOCKED):
        raise WorkflowError(f"the change is already {state}")
    return REJECTED


def check_override(state: str, submitter: str, admin: str, is_admin: bool, reason: str) -> str:
    """An admin lets a blocked change through, in writing; never their own change."""
    if not is_admin:
        raise WorkflowError("only an admin may override a blocked change")
    if state != BLOCKED:
        raise WorkflowError(f"only a blocked change can be overridden (this one is {state})")
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise WorkflowError(f"write why the block is overridden (at least {MIN_REASON_CHARS} characters)")
    if submitter == admin:
        raise WorkflowError("you submitted this change: another admin must override it")
    return OVERRIDDEN


def may_update(state: str) -> bool:
    """Whether the module update may run addons of a change in this state."""
    return state in (APPROVED, OVERRIDDEN)
