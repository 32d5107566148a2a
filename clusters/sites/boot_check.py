"""After a rollout: read how each new Odoo replica booted, and fail when Odoo left a module out.

Odoo 19 serves a site whose new code skipped a module and says so only in its log: a plain boot
with a module whose dependency is missing logs `module X: some depends are not loaded, skipped` and
ERROR `Some modules are not loaded, ...: ['X']`, then `Modules loaded.`, `Registry loaded in ...`,
and goes on serving (a `--stop-after-init` run exits 0); /web/health stays green. 16-18 log
`Unmet dependencies` instead. So after the new replicas converged, the panel reads each new task's
log (GET /tasks/{id}/logs) until its registry load shows, judges it (odoo_log.judge, mode "boot"),
and refuses the rollout when a module was skipped or failed to load.

The web replicas start with --db-filter and no -d: Odoo loads the registry at the first request
that opens the database, the healthcheck's /web/health, so a converged (healthy) replica has
logged it; the wait only covers the log's way to the manager (and a database not there yet).

Odoo 19 does not name the missing dependencies: they are read from the skipped modules' manifests
in the new image (image_check's one-off reader) against the site's installed modules as last read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters.approvals.gate.errors import ManifestError
from clusters.approvals.gate.manifest import parse_manifest
from clusters.models import Site
from clusters.sites import image_check
from clusters.sites.checksums import DEFAULT_ADDONS_PATH
from clusters.sites.odoo_log import Verdict, judge
from clusters.stack import SiteSpec
from jobs.logs.follow import pump, service_frames

DEADLINE_S = 120.0
POLL_S = 1.0
_REGISTRY_LOADED = re.compile(r"Registry loaded in ")
_MODULES_LOADED = re.compile(r"(\d+) modules loaded in ")


@dataclass
class Boot:
    """One replica's boot as read so far; `verdict` is None until its log decides."""

    replica: str
    lines: list[str] = field(default_factory=list)
    verdict: Verdict | None = None

    @property
    def left_out(self) -> list[str]:
        v = self.verdict
        return list(dict.fromkeys([*v.vanished, *v.failed_modules])) if v else []


def boot_verdict(lines: list[str]) -> Verdict | None:
    """The verdict of a boot once its log decides it, else None (still loading, or a load that
    names no module, e.g. of a database not initialized yet). Read up to the first `Registry
    loaded` of a load that reached `Modules loaded.`; while there is none, whole, and it decides
    only when it names a module that failed to load or was left out."""
    modules_seen = False
    for index, line in enumerate(lines):
        modules_seen = modules_seen or "Modules loaded." in line
        if modules_seen and _REGISTRY_LOADED.search(line):
            return judge(0, lines[: index + 1], mode="boot")
    verdict = judge(0, lines, mode="boot")
    return verdict if verdict.vanished or verdict.failed_modules else None


def modules_loaded(lines: list[str]) -> int | None:
    counts = [int(m[1]) for line in lines if (m := _MODULES_LOADED.search(line))]
    return max(counts) if counts else None


def task_ids(client: docker.DockerClient, service: str) -> set[str]:
    """Every task the service has now, whatever its state: what a rollout's new tasks are not."""
    return {t["ID"] for t in ops.tasks(client, service, desired=None)}


def new_tasks(client: docker.DockerClient, service: str, before: set[str]) -> list[dict]:
    """The service's running tasks on its current spec that were not there before the rollout."""
    found = ops.find_service(client, service)
    if found is None:
        return []
    image = found.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    return [
        t
        for t in ops.tasks(client, service)
        if t["ID"] not in before
        and t.get("Status", {}).get("State") == "running"
        and ops.task_image(t) == image
    ]


def task_lines(client: docker.DockerClient, task_id: str) -> list[str]:
    """One task's log as it is now (docker-py has no call for /tasks/{id}/logs)."""
    frames, close = service_frames(client.api, task_id, task=True, follow=False)
    lines: list[str] = []
    try:
        pump(frames, lambda batch: lines.extend(text for text, _, _ in batch))
    finally:
        close()
    return lines


def _read(boot: Boot, client: docker.DockerClient, task_id: str) -> None:
    """The task's log as it is now, and the verdict it gives (None while it decides nothing)."""
    boot.lines = task_lines(client, task_id)
    boot.verdict = boot_verdict(boot.lines)


def read_boots(
    client: docker.DockerClient, service: str, before: set[str], *, deadline_s: float, log: ops.Log
) -> list[Boot]:
    """Poll the new tasks' logs until each has decided its boot, or the deadline passes."""
    boots: dict[str, Boot] = {}
    end = time.monotonic() + deadline_s
    while True:
        running = new_tasks(client, service, before)
        for task in running:
            boot = boots.setdefault(task["ID"], Boot(f"{service}.{task.get('Slot', '?')}"))
            if boot.verdict is None:
                try:
                    _read(boot, client, task["ID"])
                except docker.errors.APIError as exc:
                    raise ops.SwarmError(f"{boot.replica}: its log cannot be read ({exc})") from exc
                if boot.verdict is not None:
                    _log_boot(boot, log)
        current = [boots[t["ID"]] for t in running]
        if all(b.verdict is not None for b in current) or time.monotonic() > end:
            return current
        time.sleep(POLL_S)


def _log_boot(boot: Boot, log: ops.Log) -> None:
    assert boot.verdict is not None
    if boot.verdict.loaded:
        count = modules_loaded(boot.lines)
        log(f"{boot.replica}: registry loaded" + (f", {count} modules" if count is not None else ""))
    for reason in boot.verdict.reasons:
        if reason.startswith("the registry never loaded"):
            continue
        log(f"{boot.replica}: {reason}")


def check(
    client: docker.DockerClient,
    spec: SiteSpec,
    before: set[str] | None,
    *,
    run_id: str,
    log: ops.Log = ops._quiet,
    deadline_s: float = DEADLINE_S,
) -> None:
    """Raise ops.SwarmError, naming the modules and what they lack, when a new Odoo replica booted
    without every module; `before`: the odoo service's task ids before the rollout, None when the
    rollout created the service (then its database may be created by the cron meanwhile, and a
    replica that opens it halfway logs modules in passing states: that boot is not judged)."""
    service = spec.service_name("odoo")
    if before is None:
        log(f"{service} was created by this deploy: no boot is read on a first rollout")
        return
    boots = read_boots(client, service, before, deadline_s=deadline_s, log=log)
    if not boots:
        log(f"no new {service} replica: nothing to read")
        return
    bad = [b for b in boots if b.left_out]
    if bad:
        raise ops.SwarmError(failure_message(bad, lacks(client, spec, bad, run_id, log)))
    waiting = [b.replica for b in boots if b.verdict is None]
    if waiting:
        raise ops.SwarmError(
            f"{', '.join(waiting)} logged no registry load within {deadline_s:.0f} s: "
            "whether Odoo loaded every module cannot be told"
        )


def explain_ended_rollout(
    client: docker.DockerClient,
    spec: SiteSpec,
    before: set[str] | None,
    *,
    run_id: str,
    log: ops.Log = ops._quiet,
) -> str | None:
    """Why a rollout that Swarm ended itself (its failure action rolled the update back) left modules
    out, when the new tasks' logs say so: they stay readable after the tasks ended, and name the
    module where "rollback completed" names nothing. None when they do not tell."""
    if before is None:
        return None
    service = spec.service_name("odoo")
    bad = []
    for task in ops.tasks(client, service, desired=None):
        if task["ID"] in before:
            continue
        boot = Boot(f"{service}.{task.get('Slot', '?')}")
        try:
            _read(boot, client, task["ID"])
        except docker.errors.APIError:
            continue
        if boot.left_out:
            _log_boot(boot, log)
            bad.append(boot)
    return failure_message(bad, lacks(client, spec, bad, run_id, log)) if bad else None


def failure_message(bad: list[Boot], lacking: dict[str, str]) -> str:
    """Why the rollout is refused: each module left out, with what it lacks, and where."""
    verdicts = [b.verdict for b in bad if b.verdict is not None]
    modules = list(dict.fromkeys(m for b in bad for m in b.left_out))
    failed = {m for v in verdicts for m in v.failed_modules}
    parts = []
    for name in modules:
        what = "failed to load" if name in failed else "was skipped"
        parts.append(f"{name} {what}" + (f" ({lacking[name]})" if lacking.get(name) else ""))
    errors = list(dict.fromkeys(r for v in verdicts for r in v.reasons if r.startswith("the error: ")))
    return (
        f"the new image leaves modules out of Odoo's registry: {'; '.join(parts)}"
        + "".join(f"; {e}" for e in errors[:1])
        + f" (seen on {', '.join(b.replica for b in bad)}). Odoo serves the site without them while "
        "/web/health stays green. Fix the addons in the image, or install what they depend on first, "
        "then deploy again."
    )


def lacks(
    client: docker.DockerClient, spec: SiteSpec, bad: list[Boot], run_id: str, log: ops.Log
) -> dict[str, str]:
    """module -> what it lacks, in words. 16-18 name the missing dependencies in the log; 19 does
    not: the skipped modules' manifests are read from the new image and their depends compared with
    the site's installed modules as last read."""
    verdicts = [b.verdict for b in bad if b.verdict is not None]
    unmet = {m: deps for v in verdicts for m, deps in v.unmet.items()}
    skipped = list(dict.fromkeys(m for v in verdicts for m in v.vanished))
    found = {m: f"unmet dependencies: {', '.join(deps)}" for m, deps in unmet.items() if deps}
    to_read = [m for m in skipped if m not in found]
    if not to_read:
        return found
    try:
        depends = read_depends(client, spec, to_read, run_id)
    except (ops.SwarmError, ValueError, docker.errors.APIError) as exc:
        log(f"the skipped modules' manifests could not be read: {exc}")
        return found
    installed = installed_modules(spec.slug)
    for name in to_read:
        found[name] = describe_lack(depends.get(name, "its manifest was not read"), skipped, installed)
    return found


def describe_lack(depends: list[str] | str, skipped: list[str], installed: set[str] | None) -> str:
    """In words, what a skipped module lacks, from its manifest's depends (a str: why they are not
    known) and the site's installed modules (None: never read)."""
    if isinstance(depends, str):
        return depends
    also_skipped = [d for d in depends if d in skipped]
    others = [d for d in depends if d not in also_skipped]
    words = []
    if installed is None and others:
        words.append(f"depends on {', '.join(others)}; the site's installed modules were never read")
    elif missing := [d for d in others if installed is not None and d not in installed]:
        words.append(f"depends on {', '.join(missing)}, not installed")
    if also_skipped:
        words.append(f"depends on {', '.join(also_skipped)}, skipped too")
    return "; ".join(words) or f"depends on {', '.join(depends) or 'nothing'}, all installed"


def read_depends(
    client: docker.DockerClient, spec: SiteSpec, names: list[str], run_id: str
) -> dict[str, list[str] | str]:
    """The `depends` of each module's manifest in the new image, read by image_check's one-off
    reader; for a module whose manifest is missing or unreadable, why."""
    paths = spec.addons_path or DEFAULT_ADDONS_PATH
    out: dict[str, list[str] | str] = {}
    for name, text in image_check.read_image(client, spec, run_id, names, "bootdeps").manifests.items():
        if text is None:
            out[name] = f"the new image has no {name} manifest on its addons path ({', '.join(paths)})"
            continue
        try:
            manifest = parse_manifest(text.encode(), f"{name}/__manifest__.py")
        except ManifestError as exc:
            out[name] = f"its manifest cannot be read: {exc}"
            continue
        out[name] = [str(d) for d in manifest.get("depends", [])]
    return out


def installed_modules(slug: str) -> set[str] | None:
    """The site's modules Odoo loads (installed, or marked for upgrade or removal), as last read;
    None when they were never read."""
    rows: Any = Site.objects.filter(slug=slug).values_list("installed_modules", flat=True).first()
    if not rows:
        return None
    return {
        name for name, (state, _version) in rows.items() if state in ("installed", "to upgrade", "to remove")
    }
