"""What the module update asks the approval gate (clusters.sites.module_update.update, step 1).

A module is refused when the latest manifest change for this site that covers it is not approved
(pending, blocked or rejected): the code on the image may be that change, and `odoo -u` would load it
with whatever dependencies it declares. Approved and overridden changes pass; a module no change ever
covered passes too (the gate judges changes, not the code that predates it). "Latest" is the highest
change id, i.e. the last submitted, whatever was decided on older ones.

An approved change passes only on what its decision covers (gate.binding): the image digest it was
decided on, carrying the manifests that were judged. Otherwise the update is refused, audited as
`manifest.binding_refused`, and a new decision is needed. A decision taken before approvals were
bound covers nothing (migration 0004). A rehearsal runs on a copy and checks the states only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clusters.approvals.gate.binding import Binding, manifest_fingerprint, uncovered
from clusters.approvals.gate.workflow import may_update

HashesReader = Callable[[], Mapping[str, str]]


def unapproved_changes(site: Any, modules: Iterable[str]) -> list[str]:
    """The modules to refuse, sorted, each followed by its change and state: "name (change #3, pending)"."""
    latest = _latest_changes(site, modules)
    return [
        f"{name} (change #{change_id}, {state})"
        for name, (change_id, state) in sorted(latest.items())
        if not may_update(state)
    ]


def _latest_changes(site: Any, modules: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Per module, the latest change of the site that covers it: (change id, state)."""
    from clusters.approvals.models import ChangeAddon

    names = sorted(set(modules))
    if not names or site is None or site.pk is None:
        return {}
    latest: dict[str, tuple[int, str]] = {}
    rows = (
        ChangeAddon.objects.filter(site_id=site.pk, name__in=names)
        .order_by("name", "-change_id")
        .values_list("name", "change_id", "change__state")
    )
    for name, change_id, state in rows:
        latest.setdefault(name, (change_id, state))
    return latest


@dataclass(frozen=True)
class Uncovered:
    """An approved change whose decision does not cover this run, and why."""

    change: Any
    modules: tuple[str, ...]
    binding: Binding
    reason: str
    found_fingerprint: str = ""

    def describe(self) -> str:
        return f"{', '.join(self.modules)} (change #{self.change.pk}: {self.reason})"


def binding_of(change: Any) -> Binding:
    """What the change's latest approval or override covers (empty: decided before bindings)."""
    from clusters.approvals.models import Decision

    decision = (
        change.decisions.filter(kind__in=[Decision.Kind.APPROVE, Decision.Kind.OVERRIDE])
        .order_by("-created_at", "-id")
        .first()
    )
    if decision is None:
        return Binding("", "", change.manifest_hashes())
    return Binding(decision.image_digest, decision.manifest_fingerprint, change.manifest_hashes())


def uncovered_changes(
    site: Any, modules: Iterable[str], digest: str, read_hashes: HashesReader
) -> list[Uncovered]:
    """The approved changes covering these modules that do not cover a run on `digest`. The image's
    manifest hashes are read (once, through `read_hashes`) only when a decision was taken on this
    very digest for manifests that did not come from it (an upload, a folder, the API)."""
    from clusters.approvals.models import ChangeSource, ManifestChange

    by_change: dict[int, list[str]] = {}
    for name, (change_id, state) in sorted(_latest_changes(site, modules).items()):
        if may_update(state):
            by_change.setdefault(change_id, []).append(name)
    found: Mapping[str, str] | None = None
    refused = []
    for change in ManifestChange.objects.filter(pk__in=by_change).order_by("pk"):
        binding = binding_of(change)
        hashes = None
        if binding.digest == digest and binding.fingerprint and change.source != ChangeSource.IMAGE:
            found = read_hashes() if found is None else found
            hashes = found
        reason = uncovered(binding, digest, hashes)
        if reason:
            seen = manifest_fingerprint({n: hashes.get(n, "") for n in binding.hashes}) if hashes else ""
            refused.append(Uncovered(change, tuple(by_change[change.pk]), binding, reason, seen))
    return refused


def record_refusals(
    refused: list[Uncovered], digest: str, *, actor: Any, job: Any, site: Any, what: str
) -> str:
    """One audit event per change whose decision does not cover the run; the refusal's message."""
    from panel.audit import record

    for item in refused:
        record(
            "manifest.binding_refused",
            actor=actor,
            target=item.change,
            job=job,
            site=site,
            before={"image_digest": item.binding.digest, "manifest_fingerprint": item.binding.fingerprint},
            after={"image_digest": digest, "manifest_fingerprint": item.found_fingerprint, "refused": what},
            detail=item.reason,
        )
    return (
        f"a new decision is needed before {what} on image {digest}: "
        + "; ".join(item.describe() for item in refused)
        + ". An approval covers only the image and the manifests it judged: submit the change again "
        "(Manifest changes) for an approver to decide on this image."
    )
