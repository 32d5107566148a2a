"""The green-rehearsal policy (issue 18): a site may require that a module update run only where the
newest rehearsal of the same image digest and the same modules succeeded.

Met when the newest rehearsal of exactly these modules on exactly this digest passed: a later failure
of the same change means production's data no longer takes it, so an older success does not count.
An admin may override a refusal in writing; the update job records the override in the audit log
with its reason when it acts on it. Checked twice: where an update is asked for (the page, `site
update`: refused before any job exists) and in the job's Check step, which is what any other caller
of jobs.control.start meets, against the digest the job really runs.

`-i` (module_install) is not covered: a rehearsal runs `-u` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusters.models import Rehearsal, Site
from jobs.runner import JobFailed
from panel.audit import record
from panel.roles import can

MIN_REASON_CHARS = 10
OVERRIDE_PARAM = "rehearsal_override"  # the job's parameter that carries an admin's reason


class PolicyRefused(Exception):
    """The update may not start (or go on): the message says why and what to do."""


@dataclass(frozen=True)
class RehearsalPolicy:
    """What the policy says of one update: `applies` (the site requires it), and the newest rehearsal
    of the same digest and modules, if any."""

    site: Site
    digest: str
    modules: tuple[str, ...]
    applies: bool
    last: Rehearsal | None

    @property
    def met(self) -> bool:
        return not self.applies or (self.last is not None and self.last.ok)

    def refusal(self) -> str:
        change = f"{','.join(self.modules)} on {self.digest[:19] or 'an unpinned image'}"
        if self.last is None:
            found = f"no rehearsal of {change} has succeeded"
        else:
            when = f"{self.last.finished_at:%Y-%m-%d %H:%M}"
            found = f"the last rehearsal of {change} failed ({when}, job #{self.last.job_id})"
        rehearse = f"site rehearse {self.site.slug} --modules {','.join(self.modules)}"
        return (
            f"{self.site.slug} needs a green rehearsal of the same digest and modules before an update, "
            f"and {found}. Rehearse first (`{rehearse}`, or Rehearse on a copy), or an admin overrides "
            "with a written reason. Nothing was changed."
        )


def policy_for(
    site: Site, modules: list[str] | tuple[str, ...], digest: str | None = None
) -> RehearsalPolicy:
    """The policy for an update of `modules` with `digest` (default: the site's pinned one)."""
    digest = site.image_digest if digest is None else digest
    names = tuple(sorted(modules))
    last = Rehearsal.last_of(site, digest, names) if site.rehearsal_required else None
    return RehearsalPolicy(site, digest, names, site.rehearsal_required, last)


def override_problem(user: Any, reason: str) -> str:
    """Why `user` may not override the policy with `reason` ("" when they may)."""
    if user is None:
        return "an override names a panel user: give --as USER (an admin)"
    if not can(user, "admin"):
        return f"{user.get_username()} may not override the green-rehearsal policy: only an admin may"
    if len(reason.strip()) < MIN_REASON_CHARS:
        return f"write why the policy is overridden (at least {MIN_REASON_CHARS} characters)"
    return ""


def update_params(
    site: Site, modules: tuple[str, ...], *, backup: bool, user: Any, override: str = ""
) -> dict[str, Any]:
    """The parameters of a module update the page or `site update` may start, or PolicyRefused.
    An override is kept only where the policy refuses: one that overrides nothing is not recorded."""
    params: dict[str, Any] = {"modules": list(modules), "backup": backup}
    policy = policy_for(site, modules)
    if policy.met:
        return params
    if not override.strip():
        raise PolicyRefused(policy.refusal())
    if problem := override_problem(user, override):
        raise PolicyRefused(f"{problem}. Nothing was changed.")
    return {**params, OVERRIDE_PARAM: override.strip()}


def check_in_job(runner: Any, modules: tuple[str, ...], digest: str) -> None:
    """The update job's own check, against the digest it runs: JobFailed (a refusal) unless the policy
    is met or overridden by an admin who started the job with a reason, which is audited here, when
    it takes effect."""
    policy = policy_for(runner.site, modules, digest)
    if policy.met:
        if policy.applies:
            runner.log(f"green-rehearsal policy met: rehearsal job #{policy.last.job_id}")  # type: ignore[union-attr]
        return
    reason = str(runner.params.get(OVERRIDE_PARAM) or "").strip()
    if not reason:
        raise JobFailed(policy.refusal())
    user = runner.job.created_by
    if problem := override_problem(user, reason):
        raise JobFailed(f"{problem}; {policy.refusal()}")
    record(
        "site.rehearsal_override",
        actor=user,
        target=runner.site,
        job=runner.job,
        site=runner.site,
        after={"digest": digest, "modules": list(policy.modules), "reason": reason},
        detail=reason,
    )
    runner.log(f"green-rehearsal policy not met, overridden by {user.get_username()}: {reason}")
