"""A rehearsal of a module update (issue 18): the update's own `-u`, judged by the same judge, on a
neutralized copy of production's database, while production serves untouched.

    Check                 the update's request checks (check_request) against the modules
                          installed in production; the digest to rehearse (the site's pinned
                          one, or `image` resolved as the deploy resolves it)
    Copy and neutralize   `<db>_rh<job id>` by pg_dump | pg_restore, `odoo neutralize` with the
                          site's own image, read back: a copy whose neutralization is not verified
                          (a mail server or a cron still active, no flag) fails closed; then
                          production's filestore (mounted read-only) copied as the copy's, into
                          the site's rehearsal volume on the database's node
    Update the copy       the update's one-off `-u` with `-d <copy>` and the digest, the rehearsal
                          volume as its data dir
    Drop the copy         its filestore and database, always; recorded in the job (`drop_copy`)
                          before the copy is made, so the reaper drops it if the worker dies

Not mutating: it takes no site lock and never scales anything; two rehearsals of one site use two
copies (the job id names each).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

from django.utils import timezone

from clusters import engine
from clusters import swarm_ops as ops
from clusters.job_client import job_client
from clusters.models import Rehearsal
from clusters.sites.module_update.update import check_request, run_followed
from clusters.sites.modules import read_modules
from clusters.sites.neutralized_copy import (
    Copied,
    Neutralization,
    copy_database,
    copy_filestore,
    drop_copy,
    neutralize,
)
from clusters.sites.odoo_log import Verdict, judge
from clusters.sites.registry_auth import registry_auth_for
from clusters.sites.site_spec import spec_for
from clusters.stack.db_copy import (
    copy_name,
    render_check_task,
    render_copy_task,
    render_filestore_copy_task,
    render_filestore_drop_task,
    render_neutralize_task,
    render_rehearse_task,
)
from clusters.stack.rules import DIGEST_RE
from clusters.stack.spec import SiteSpec, SpecError
from jobs.compensation import compensation
from jobs.models import Job, Stream
from jobs.runner import JobFailed, JobRunner, register


@compensation("drop_copy")
def drop_copy_action(job: Job, log: Any, *, database: str, services: list[str]) -> str:
    """Remove the rehearsal's one-off tasks still there, then drop its copy (both idempotent)."""
    with engine.client_for(job.cluster or job.site.cluster) as client:  # type: ignore[union-attr]
        for name in services:
            ops.remove_service(client, name)
        drop_copy(client, spec_for(job.site), database, f"j{job.pk}", log)  # type: ignore[arg-type]
    return f"{database} dropped"


def target_spec(site: Any, spec: SiteSpec, client: Any, image: str) -> SiteSpec:
    """The spec `-u` runs with: the site's, with `image` (repo[:tag], resolved at its registry with the
    site's credentials as a deploy does, or repo@sha256:...) in place of the pinned image."""
    if not image:
        if not spec.image_digest:
            raise SpecError("the site has no pinned digest: deploy it first, or give an image")
        return spec
    repo, at, digest = image.partition("@")
    if at and not DIGEST_RE.match(digest):
        raise SpecError(f"{image!r}: the digest is not sha256:<64 hex>")
    if not at:
        digest = ops.resolve_digest(client, image, registry_auth_for(site, image))
    return replace(spec, image=repo, image_digest=digest)


@register
class RehearsalRunner(JobRunner):
    kind = "rehearsal"
    mutating = False
    plan = ["Check", "Copy and neutralize", "Update the copy", "Drop the copy"]

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """Bad input, found before anything exists: recorded as a refusal (`site rehearse` exits 2)."""
        try:
            yield
        except (SpecError, ops.SwarmError, JobFailed) as exc:
            self.job.result = {"refused": str(exc)}
            raise JobFailed(str(exc)) from exc

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        run_id = f"j{self.job.pk}"
        with job_client(self) as client:
            with self.step("Check"):
                spec, target, modules, installed = self._check(client, run_id)
            copy = copy_name(spec, f"rh{self.job.pk}")
            self._record_drop(spec, target, copy, modules, run_id)
            failure: BaseException | None = None
            try:
                self.check_cancelled()
                with self.step("Copy and neutralize"):
                    neutral, copied = self._copy(client, spec, target, copy, modules, run_id)
                self.check_cancelled()
                with self.step("Update the copy"):
                    verdict, update_s = self._update(client, target, copy, modules, run_id, installed)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self._drop(client, spec, copy, run_id, failure)
        return self._outcome(target, modules, neutral, copied, verdict, update_s, time.monotonic() - started)

    def _copy(
        self, client: Any, spec: SiteSpec, target: SiteSpec, copy: str, modules: tuple[str, ...], run_id: str
    ) -> tuple[Neutralization, dict[str, Copied]]:
        """The database copied and neutralized, verified, then the filestore copied (not before: a
        copy that fails closed needs none)."""
        database = copy_database(client, spec, copy, run_id, self.log)
        neutral = neutralize(client, spec, copy, run_id, self.log)
        self._verified(neutral, target, modules)
        filestore = copy_filestore(client, spec, copy, run_id, self.log)
        self.log(
            f"copied {database.bytes} bytes of database in {database.seconds:.1f} s and "
            f"{filestore.files} filestore files ({filestore.bytes} bytes) in {filestore.seconds:.1f} s"
        )
        return neutral, {"database": database, "filestore": filestore}

    def _check(self, client: Any, run_id: str) -> tuple[SiteSpec, SiteSpec, tuple[str, ...], set[str]]:
        site = self.site
        installed = read_modules(client, site, run_id, self.log, guard=self)
        with self.refusing():
            modules = check_request(site, list(self.params.get("modules", [])), installed)
            spec = spec_for(site)
            if not spec.image_digest:
                raise SpecError("the site has no pinned digest: deploy it first")
            target = target_spec(site, spec, client, str(self.params.get("image") or ""))
        self.log(f"rehearsing -u {','.join(modules)} of {site.db_name} on {target.odoo_image_ref}")
        return spec, target, modules, {n for n, (state, _) in installed.items() if state == "installed"}

    def _record_drop(
        self, spec: SiteSpec, target: SiteSpec, copy: str, modules: tuple[str, ...], run_id: str
    ) -> None:
        """Before the copy exists: whoever ends this job removes its tasks and drops the copy."""
        tasks = [
            render_copy_task(spec, copy, run_id),
            render_neutralize_task(spec, copy, run_id),
            render_check_task(spec, copy, run_id),
            render_filestore_copy_task(spec, copy, run_id),
            render_filestore_drop_task(spec, copy, run_id),
            render_rehearse_task(target, copy, modules, run_id),
        ]
        self.set_compensation("drop_copy", database=copy, services=[t.name for t in tasks])

    def _verified(self, neutral: Neutralization, target: SiteSpec, modules: tuple[str, ...]) -> None:
        """Fail closed: nothing runs on a copy that could still send mail or run a cron."""
        self.log(
            f"{neutral.database}: {neutral.mail_servers} mail servers and {neutral.crons} crons active, "
            f"database.is_neutralized={neutral.flag or '(unset)'}"
        )
        if neutral.ok:
            return
        self.job.result = {
            "ok": False,
            "neutralized": False,
            "neutralization": {**asdict(neutral), "problems": neutral.problems()},
            "digest": target.image_digest,
            "modules": list(modules),
        }
        raise JobFailed(
            f"the copy's neutralization is not verified ({'; '.join(neutral.problems())}): "
            "nothing was run on it, and it is dropped"
        )

    def _update(
        self,
        client: Any,
        target: SiteSpec,
        copy: str,
        modules: tuple[str, ...],
        run_id: str,
        before: set[str],
    ) -> tuple[Verdict, float]:
        task = render_rehearse_task(target, copy, modules, run_id)
        code, lines, seconds = run_followed(self, client, task, what="the rehearsal's update task")
        verdict = judge(code, lines, modules=modules, installed_before=before)
        if not verdict.ok:
            self.step_fails()
        return verdict, seconds

    def _drop(
        self, client: Any, spec: SiteSpec, copy: str, run_id: str, failure: BaseException | None
    ) -> None:
        """Whatever happened; when the job already fails, a failed drop is logged and left to the
        compensation (retried until it succeeds), and the first error is the one reported."""
        try:
            with self.step("Drop the copy"):
                drop_copy(client, spec, copy, run_id, self.log)
                self.clear_compensation("drop_copy")
                self.log(f"{copy} dropped")
        except Exception as exc:
            if failure is None:
                raise
            self.log(
                f"{copy} not dropped now ({type(exc).__name__}: {exc}); the compensation drops it",
                Stream.STDERR,
            )

    def _outcome(
        self,
        target: SiteSpec,
        modules: tuple[str, ...],
        neutral: Neutralization,
        copied: dict[str, Copied],
        verdict: Verdict,
        update_s: float,
        duration_s: float,
    ) -> dict[str, Any]:
        update_s, duration_s = round(update_s, 2), round(duration_s, 2)
        result = {
            "ok": verdict.ok,
            "duration_s": duration_s,
            "update_s": update_s,
            "neutralized": neutral.ok,
            "neutralization": asdict(neutral),
            "copy": {what: c.as_dict() for what, c in copied.items()},
            "digest": target.image_digest,
            "modules": list(modules),
            "verdict": verdict.as_dict(),
        }
        self.job.result = result
        Rehearsal.objects.create(
            site=self.site,
            job_id=self.job.pk,
            digest=target.image_digest or "",
            modules=sorted(modules),
            ok=verdict.ok,
            reasons=verdict.reasons,
            update_s=update_s,
            duration_s=duration_s,
            finished_at=timezone.now(),
        )
        if not verdict.ok:
            for line in verdict.error_lines[:20]:
                self.log(line, Stream.STDERR)
            raise JobFailed(
                "\n".join(
                    ["the rehearsed update failed: " + "; ".join(verdict.reasons), *verdict.error_lines[:20]]
                )
            )
        return result
