"""The approval gate on a new image, before a deploy changes anything.

A manifest change usually arrives inside a new image, not as an upload. So a deploy that pins a
new digest reads every addon manifest the image carries (clusters.sites.image_addons) and runs the
same gate as an upload against the site's installed modules. A blocked verdict is stored as a
manifest change of the image (its page shows it; an admin may override it for this digest) and
refuses the deploy, naming what would break and what `-u` would install. A digest whose change was
overridden or approved deploys, when that decision covers it (the same digest and the manifests
it judged, gate.binding); one that does not (decided before approvals were bound) is audited as
refused and the image's change is recorded afresh for a new decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters.approvals import services
from clusters.approvals.gate.addons import AddonsIndex
from clusters.approvals.gate.binding import manifest_fingerprint, uncovered
from clusters.approvals.gate.errors import GateError
from clusters.approvals.intake import Evaluation, check_for_site, installed_for
from clusters.approvals.update_check import Uncovered, binding_of, record_refusals
from clusters.models import Site
from clusters.sites.image_addons import DEADLINE_S, parse_output, render_addons_task
from clusters.stack import SiteSpec

Log = Callable[[str], object]


def gate_image(
    client: docker.DockerClient,
    site: Site,
    spec: SiteSpec,
    *,
    run_id: str,
    log: Log,
    actor: Any,
    actor_name: str,
) -> None:
    """Raise ops.Refused when the image's addons would break the site and nobody let them through."""
    if site.modules_read_at is None:
        log("the gate: the site's installed modules were never read (a new site): nothing to break")
        return
    if spec.image_digest == site.image_digest:
        log("the gate: the site already runs this digest")
        return
    index = read_image_addons(client, spec, run_id)
    installed = installed_for(site)
    verdict = check_for_site(site, index.paths, spec.series, installed, index=index)
    log(f"the gate: {len(index.addons)} addons in the image, {len(installed.versions)} installed on the site")
    if verdict["passes"]:
        log("the gate: passes")
        return
    source_name = f"image {spec.image_digest}"
    change = services.image_change(site, source_name)
    if change is not None and change.may_update:
        state = change.get_state_display().lower()
        if not _not_covered(change, spec, index, actor or actor_name, site):
            log(f"the gate: blocked, but manifest change #{change.pk} lets this digest through ({state})")
            return
        log(f"the gate: manifest change #{change.pk} is {state}, but its decision does not cover this image")
        change = None
    if change is None:
        change = _record(site, spec, index, installed, verdict, source_name, actor, actor_name)
    raise ops.Refused(_refusal(change.verdict, change.pk))


def read_image_addons(client: docker.DockerClient, spec: SiteSpec, run_id: str) -> AddonsIndex:
    """Every addon manifest the pinned image carries, read by a one-off task (image_addons)."""
    code, lines = ops.run_one_off(client, render_addons_task(spec, run_id), DEADLINE_S, ops._quiet)
    if code != 0:
        raise ops.SwarmError(f"reading the image's addons failed (exit {code}): {' '.join(lines[-3:])}")
    try:
        return parse_output(lines)
    except GateError as exc:
        raise ops.Refused(f"the image carries manifests that cannot be read: {exc}") from exc
    except ValueError as exc:
        raise ops.SwarmError(str(exc)) from exc


def manifest_hashes(index: AddonsIndex) -> dict[str, str]:
    return {name: addon.manifest_sha256 for name, addon in index.addons.items()}


def _not_covered(change: Any, spec: SiteSpec, index: AddonsIndex, actor: Any, site: Site) -> str:
    """Why the change's decision does not cover this image ("" when it does); a refusal is audited."""
    digest = spec.image_digest or ""
    binding = binding_of(change)
    hashes = manifest_hashes(index)
    why = uncovered(binding, digest, hashes)
    if why:
        seen = manifest_fingerprint({n: hashes.get(n, "") for n in binding.hashes})
        item = Uncovered(change, tuple(sorted(binding.hashes)), binding, why, seen)
        record_refusals([item], digest, actor=actor, job=None, site=site, what="deploying")
    return why


def _record(
    site: Site,
    spec: SiteSpec,
    index: Any,
    installed: Any,
    verdict: dict[str, Any],
    source_name: str,
    actor: Any,
    who: str,
) -> Any:
    """Store the block as the image's manifest change, covering the addons whose own manifest
    changed (the others break only through them and are in its blast radius)."""
    changed = [
        n for n in verdict["blocked"] if verdict["addons"][n]["new"] or verdict["addons"][n]["depends_added"]
    ]
    blocked = check_for_site(
        site, index.paths, spec.series, installed, index=index, select=changed or verdict["blocked"]
    )
    manifests = {n: _facts(index.addons[n]) for n in blocked["addons"]}
    return services.record_image(
        site,
        Evaluation(blocked, manifests, source_name),
        digest=spec.image_digest or "",
        actor=actor,
        actor_name=who,
    )


def _facts(addon: Any) -> dict[str, Any]:
    return {
        "depends": list(addon.depends),
        "version": addon.version,
        "installable": addon.installable,
        "sha256": addon.manifest_sha256,
    }


def _refusal(verdict: dict[str, Any], change_id: int) -> str:
    reasons = [
        f"{name}: {'; '.join(entry['reasons'])}"
        for name, entry in verdict["addons"].items()
        if entry["blocked"]
    ]
    radius = ", ".join(verdict["blast_radius"])
    return (
        f"the approval gate blocks this image: {' | '.join(reasons)}. Installed modules that would break: "
        f"{radius}. Install what is missing first (site install), or an admin overrides manifest change "
        f"#{change_id} for this digest."
    )
