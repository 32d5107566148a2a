"""Submit, approve, reject, override: the only code that changes a manifest change.

Each one runs in one transaction with exactly one audit event, so a decision and its trace commit
together or not at all. The rules are gate.workflow's (four eyes always; blocked cannot be approved;
an override needs an admin and a written reason); the role is checked here again although every view
declares it, because the API and the command line reach these functions too. A decision locks the row
(select_for_update): two approvers clicking at once make one decision and one "already approved".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.approvals.gate import workflow
from clusters.approvals.gate.binding import manifest_fingerprint
from clusters.approvals.intake import Evaluation
from clusters.approvals.models import ChangeAddon, ChangeSource, Decision, ManifestChange
from clusters.models import Site
from panel import notify
from panel.audit import record
from panel.roles import can, require

AUDIT_NAMES = 50  # addon names listed in an audit event; a 400-addon change keeps its counts only


def submit(
    site: Site,
    evaluation: Evaluation,
    *,
    user: Any,
    source: ChangeSource,
    title: str = "",
    request: Any = None,
) -> ManifestChange:
    """Store a change with its verdict: pending when it passes, blocked otherwise."""
    require(user, "operate")
    if source == ChangeSource.FOLDER:
        require(user, "admin")  # a path on the panel's host
    return _store(site, evaluation, source, title, user, user.get_username(), request)


def record_image(
    site: Site, evaluation: Evaluation, *, digest: str, actor: Any, actor_name: str
) -> ManifestChange:
    """A new image's addons, as a deploy read them: stored like an upload, so that the change page
    shows the verdict and an admin may override a block for this digest (actor: who started the
    deploy; a command line's has no panel user)."""
    return _store(site, evaluation, ChangeSource.IMAGE, "", actor, actor_name, None, digest)


def image_change(site: Site, source_name: str) -> ManifestChange | None:
    """The latest change recorded for this image of this site."""
    changes = ManifestChange.objects.filter(site=site, source=ChangeSource.IMAGE, source_name=source_name)
    return changes.order_by("-id").first()


def _store(
    site: Site,
    evaluation: Evaluation,
    source: ChangeSource,
    title: str,
    user: Any,
    who: str,
    request: Any,
    digest: str = "",
) -> ManifestChange:
    verdict = evaluation.verdict
    manifests = evaluation.manifests
    hashes = {name: str(manifests.get(name, {}).get("sha256", "")) for name in verdict["addons"]}
    state = workflow.initial_state(verdict)
    with transaction.atomic():
        change = ManifestChange.objects.create(
            site=site,
            state=state,
            title=title[:200],
            source=source,
            source_name=evaluation.source_name[:1000],
            series=verdict["series"],
            passes=verdict["passes"],
            addons_count=len(verdict["addons"]),
            blocked_count=len(verdict["blocked"]),
            verdict=verdict,
            manifests=manifests,
            modules_read_at=site.modules_read_at,
            image_digest=digest,
            manifest_fingerprint=manifest_fingerprint(hashes),
            submitted_by=user,
            submitted_by_name=who,
        )
        _store_addons(change, site, verdict)
        record(
            "manifest.submit",
            request=request,
            actor=user if user is not None else who,
            target=change,
            site=site,
            after={
                "state": state,
                "source": source.value,
                "source_name": change.source_name,
                "addons": _names(verdict["addons"]),
                "blocked": _names(verdict["blocked"]),
                "blast_radius": _names(verdict["blast_radius"]),
                "modules_read_at": verdict["installed_snapshot"]["read_at"],
                "image_digest": digest,
                "manifest_fingerprint": change.manifest_fingerprint,
            },
            detail=f"{len(verdict['addons'])} addon(s), {'passes' if verdict['passes'] else 'blocked'}",
        )
        _announce(change, site, who)
    return change


def _store_addons(change: ManifestChange, site: Site, verdict: dict[str, Any]) -> None:
    rows = [
        ChangeAddon(change=change, site=site, name=name, blocked=e["blocked"], installed=e["installed"])
        for name, e in verdict["addons"].items()
    ]
    ChangeAddon.objects.bulk_create(rows, batch_size=1000)


def _announce(change: ManifestChange, site: Site, who: str) -> None:
    """approval.requested for a change that waits for an approver, gate.blocked for one the gate
    refused (sent once the change is committed; panel.notify never raises)."""
    payload = {
        "change_id": change.pk,
        "submitted_by": who,
        "source": change.source,
        "url": change.get_absolute_url(),
    }
    if change.state == workflow.BLOCKED:
        payload["blocked"] = _names(change.verdict.get("blocked", []))[:20]
        notify.emit("gate.blocked", site=site, payload=payload, subject=change.pk)
    elif change.state == workflow.PENDING:
        notify.emit("approval.requested", site=site, payload=payload, subject=change.pk)


def approve(
    change_id: int, user: Any, *, request: Any = None, shown: tuple[str, str] | None = None
) -> ManifestChange:
    """Approve for the digest the site runs and the manifests judged (gate.binding); `shown`, the
    (digest, fingerprint) the approver's page showed, must still be those."""
    require(user, "approve")
    return _decide(
        change_id,
        user,
        Decision.Kind.APPROVE,
        "",
        request,
        lambda c: workflow.check_approve(c.state, _who_submitted(c), _who(user)),
        shown,
    )


def reject(change_id: int, user: Any, reason: str = "", *, request: Any = None) -> ManifestChange:
    require(user, "approve")
    return _decide(
        change_id, user, Decision.Kind.REJECT, reason, request, lambda c: workflow.check_reject(c.state)
    )


def override(
    change_id: int, user: Any, reason: str, *, request: Any = None, shown: tuple[str, str] | None = None
) -> ManifestChange:
    """An admin lets a blocked change through, in writing; never their own change. Bound like an approval."""
    require(user, "approve")
    return _decide(
        change_id,
        user,
        Decision.Kind.OVERRIDE,
        reason,
        request,
        lambda c: workflow.check_override(c.state, _who_submitted(c), _who(user), can(user, "admin"), reason),
        shown,
    )


def binding_of(change: ManifestChange) -> tuple[str, str]:
    """(digest, fingerprint) an approval or override of this change taken now binds to."""
    return change.binding_digest(), change.manifest_fingerprint


def _bound(change: ManifestChange, kind: Decision.Kind, shown: tuple[str, str] | None) -> tuple[str, str]:
    """What an approval or override covers (a rejection covers nothing); WorkflowError when it is no
    longer what the decider's page showed (the site was deployed meanwhile)."""
    if kind == Decision.Kind.REJECT:
        return "", ""
    bound = binding_of(change)
    if shown is not None and tuple(shown) != bound:
        raise workflow.WorkflowError(
            f"what this decision would cover changed since your page showed it (now image "
            f"{bound[0] or 'none'}, manifests {bound[1] or 'none'}): look at the change again"
        )
    return bound


def _decide(
    change_id: int,
    user: Any,
    kind: Decision.Kind,
    reason: str,
    request: Any,
    rule: Callable[[ManifestChange], str],
    shown: tuple[str, str] | None = None,
) -> ManifestChange:
    reason = reason.strip()
    with transaction.atomic():
        change = ManifestChange.objects.select_for_update().select_related("site").get(pk=change_id)
        before = change.state
        change.state = rule(change)  # WorkflowError: nothing written
        bound = _bound(change, kind, shown)
        change.decided_at = timezone.now()
        change.save(update_fields=["state", "decided_at"])
        Decision.objects.create(
            change=change,
            kind=kind,
            actor=user,
            actor_name=user.get_username(),
            reason=reason,
            state_before=before,
            state_after=change.state,
            image_digest=bound[0],
            manifest_fingerprint=bound[1],
            created_at=change.decided_at,
        )
        record(
            f"manifest.{kind.value}",
            request=request,
            actor=user,
            target=change,
            site=change.site,
            before={"state": before},
            after={
                "state": change.state,
                **({"reason": reason} if reason else {}),
                **({"image_digest": bound[0], "manifest_fingerprint": bound[1]} if any(bound) else {}),
            },
            detail=reason,
        )
    return change


def allowed_decisions(change: ManifestChange, user: Any) -> dict[str, bool]:
    """Which buttons this user gets on this change: the same rules the decisions enforce."""
    me, submitter = _who(user), _who_submitted(change)
    # The reason is the only input not known before the click; a placeholder asks "could they, in writing?"
    written = "x" * workflow.MIN_REASON_CHARS
    rules: dict[str, Callable[[], str]] = {
        "approve": lambda: workflow.check_approve(change.state, submitter, me),
        "reject": lambda: workflow.check_reject(change.state),
        "override": lambda: workflow.check_override(change.state, submitter, me, can(user, "admin"), written),
    }
    allowed = {}
    for kind, rule in rules.items():
        try:
            allowed[kind] = can(user, "approve") and bool(rule())
        except workflow.WorkflowError:
            allowed[kind] = False
    return allowed


def _who(user: Any) -> str:
    """Compare people by user key: a renamed user is still the submitter."""
    return f"user:{user.pk}"


def _who_submitted(change: ManifestChange) -> str:
    if change.submitted_by_id is not None:
        return f"user:{change.submitted_by_id}"
    return f"deleted:{change.submitted_by_name}"


def _names(names: Any) -> list[str]:
    listed = sorted(names)
    return listed if len(listed) <= AUDIT_NAMES else [*listed[:AUDIT_NAMES], f"... {len(listed)} in all"]
