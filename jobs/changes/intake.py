"""From an upload, a host folder or an API archive to a verdict and the parsed manifests.

Nothing here executes what it reads: the engine parses manifests with a literal-only walker
(jobs.gate.manifest). An archive is unpacked only into a temporary folder (jobs.gate.archive) that is
removed before the answer leaves, whatever happened. The temporary folder's path is then replaced by the
archive's own paths ("addons", "." for its root), in the verdict and in error messages alike, so that no
dead /tmp path is stored or shown, and the verdict equals `gate check --json` run inside the unpacked
tree with those relative paths.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from clusters.models import Site
from jobs.changes.models import ChangeAddon, ChangeState, ManifestChange
from jobs.gate.addons import addon_dirs_under, discover_addons
from jobs.gate.archive import ArchiveLimits, unpack_archive
from jobs.gate.errors import FileError, GateError
from jobs.gate.installed import InstalledModules, installed_from_names
from jobs.gate.verdict import check_change

MAX_UPLOAD_BYTES = 200 << 20
# Bounds for one web upload: a large addons repository with its static files fits.
UPLOAD_LIMITS = ArchiveLimits(max_total_bytes=1 << 30, max_member_bytes=128 << 20)
BASELINE_STATES = (ChangeState.APPROVED, ChangeState.OVERRIDDEN)


class Upload(Protocol):
    """What Django's UploadedFile offers, and all we use of it."""

    @property
    def name(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    def chunks(self, chunk_size: int | None = ...) -> Iterable[bytes]: ...


class ModulesNotRead(Exception):
    """The site's installed modules were never read: there is nothing to compare a change with."""

    def __init__(self, site: Site) -> None:
        super().__init__(
            f"The installed modules of {site.slug} have never been read from its database "
            f"({site.db_name}), so the gate cannot tell what a change would break. Read them first."
        )


@dataclass(frozen=True)
class Evaluation:
    """The gate's answer for one site, ready to return (dry run) or to store (ManifestChange)."""

    verdict: dict[str, Any]
    manifests: dict[str, dict[str, Any]]
    source_name: str


def installed_for(site: Site) -> InstalledModules:
    """The site's modules as last read by the `read_modules` job; the same source as `gate check --site`."""
    if site.modules_read_at is None:
        raise ModulesNotRead(site)
    return installed_from_names(site.installed_for_gate(), site.modules_read_at, source=f"site:{site.slug}")


def evaluate_archive(site: Site, upload: Upload, select: list[str] | None = None) -> Evaluation:
    installed = installed_for(site)
    name = os.path.basename(upload.name or "upload")[:200]
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise GateError(f"{name} is {upload.size:,} bytes; the limit is {MAX_UPLOAD_BYTES >> 20} MiB")
    spool = tempfile.mkdtemp(prefix="gate-upload-")
    path = os.path.join(spool, "archive")
    root = ""
    try:
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        with unpack_archive(path, UPLOAD_LIMITS, tmp_parent=spool) as unpacked:
            root = os.fspath(unpacked.root)
            paths = addon_dirs_under(root)
            if not paths:
                raise GateError(f"no addon (a folder holding __manifest__.py) in {name}")
            return _evaluate(site, installed, paths, select, name, root)
    except GateError as exc:
        raise _scrubbed(exc, [(root, "."), (path, name)]) from None
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def evaluate_folder(site: Site, folder: str, select: list[str] | None = None) -> Evaluation:
    """A folder on the panel's host (admins only, checked by the view): read, never written."""
    installed = installed_for(site)
    if not os.path.isabs(folder):
        raise GateError(f"{folder}: give an absolute path")
    if not os.path.isdir(folder):
        raise GateError(f"{folder}: no such folder on the panel's host")
    try:
        paths = addon_dirs_under(folder)
        if not paths:
            raise GateError(f"no addon (a folder holding __manifest__.py) in {folder}")
        return _evaluate(site, installed, paths, select, folder, None)
    except OSError as exc:  # a folder the panel may not read, or one changing under it
        raise GateError(f"{exc.filename or folder}: cannot be read ({exc.strerror})") from None


def _evaluate(
    site: Site,
    installed: InstalledModules,
    paths: list[str],
    select: list[str] | None,
    source_name: str,
    root: str | None,
) -> Evaluation:
    index = discover_addons(paths)
    baseline = current_depends(site)
    verdict = check_change(
        paths, site.series, installed, select=select, current_depends=baseline or None, index=index
    )
    if baseline:
        _unknown_baseline(verdict, baseline)
    manifests = {
        name: {"depends": list(a.depends), "version": a.version, "installable": a.installable}
        for name, a in sorted(index.addons.items())
    }
    if root is not None:
        verdict["addons_paths"] = [_relative(p, root) for p in verdict["addons_paths"]]
        verdict["warnings"] = [_scrub(w, [(root, ".")]) for w in verdict["warnings"]]
    return Evaluation(verdict, manifests, source_name)


def current_depends(site: Site) -> dict[str, list[str]]:
    """The site's current direct depends, as far as the panel knows them: per addon, its manifest in
    the latest approved (or overridden) change. The panel does not store the manifests deployed on the
    site, so this is the best baseline for "depends added / removed"."""
    latest: dict[str, int] = {}
    rows = (
        ChangeAddon.objects.filter(site=site, change__state__in=BASELINE_STATES)
        .order_by("name", "-change_id")
        .values_list("name", "change_id")
    )
    for name, change_id in rows:
        latest.setdefault(name, change_id)
    if not latest:
        return {}
    manifests = dict(
        ManifestChange.objects.filter(pk__in=set(latest.values())).values_list("pk", "manifests")
    )
    return {name: manifests[cid][name]["depends"] for name, cid in latest.items() if name in manifests[cid]}


def _unknown_baseline(verdict: dict[str, Any], baseline: dict[str, list[str]]) -> None:
    """An addon no approved change covered is unknown, not new: say null, as without a baseline."""
    for name, entry in verdict["addons"].items():
        if name not in baseline:
            entry.update(new=None, depends_added=None, depends_removed=None)


def _relative(path: str, root: str) -> str:
    return os.path.relpath(path, root) if path == root or path.startswith(root + os.sep) else path


def _scrub(text: str, places: list[tuple[str, str]]) -> str:
    """Temporary paths out of a message: the unpacked root becomes relative, the spooled file its name."""
    for where, shown in places:
        if where:
            text = text.replace(where + os.sep, "" if shown == "." else shown + os.sep).replace(where, shown)
    return text


def _scrubbed(exc: GateError, places: list[tuple[str, str]]) -> GateError:
    errors = [FileError(_scrub(e.path, places), _scrub(e.message, places)) for e in exc.errors]
    return GateError(_scrub(exc.message, places), errors)
