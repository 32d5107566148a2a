"""From an upload, a host folder or an API archive to a verdict and the parsed manifests.

Nothing here executes what it reads: the engine parses manifests with a literal-only walker
(gate.manifest). An archive is unpacked only into a temporary folder (gate.archive) that is
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
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings

from clusters.approvals.gate.addons import AddonsIndex, addon_dirs_under, discover_addons
from clusters.approvals.gate.archive import ArchiveLimits, unpack_archive
from clusters.approvals.gate.errors import FileError, GateError
from clusters.approvals.gate.installed import InstalledModules, installed_from_names
from clusters.approvals.gate.verdict import check_change
from clusters.approvals.models import ChangeAddon, ChangeState, ManifestChange
from clusters.models import Site

# Bounds for one web upload: a large addons repository with its static files fits. The unpacking child's
# header, memory and CPU bounds come from the settings (README "Configuration").
UPLOAD_LIMITS = ArchiveLimits(
    max_total_bytes=1 << 30,
    max_member_bytes=128 << 20,
    max_header_bytes=settings.ARCHIVE_MAX_HEADER_BYTES,
    max_memory_bytes=settings.ARCHIVE_UNPACK_MEMORY_BYTES,
    max_cpu_seconds=settings.ARCHIVE_UNPACK_CPU_SECONDS,
    max_wall_seconds=2 * settings.ARCHIVE_UNPACK_CPU_SECONDS,
)
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
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise GateError(f"{name} is {upload.size:,} bytes; the limit is {limit >> 20} MiB")
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
    verdict = check_for_site(site, paths, site.series, installed, select=select, index=index)
    manifests = {
        name: {
            "depends": list(a.depends),
            "version": a.version,
            "installable": a.installable,
            "sha256": a.manifest_sha256,
        }
        for name, a in sorted(index.addons.items())
    }
    if root is not None:
        verdict["addons_paths"] = [_relative(p, root) for p in verdict["addons_paths"]]
        verdict["warnings"] = [_scrub(w, [(root, ".")]) for w in verdict["warnings"]]
    return Evaluation(verdict, manifests, source_name)


def check_for_site(
    site: Site,
    paths: list[str],
    series: str,
    installed: InstalledModules,
    *,
    select: list[str] | None = None,
    strict: bool = False,
    index: AddonsIndex | None = None,
) -> dict[str, Any]:
    """check_change with the site's current depends as the baseline: the one verdict the change page,
    the API and `gate check --site` give, so that a CI pipeline and the panel never disagree."""
    baseline = current_depends(site)
    verdict = check_change(
        paths,
        series,
        installed,
        select=select,
        current_depends=baseline or None,
        strict=strict,
        index=index,
    )
    if baseline:
        _unknown_baseline(verdict, baseline)
    return verdict


def current_depends(site: Site) -> dict[str, list[str]]:
    """The site's current direct depends per addon: what "depends added / removed" compare with.

    Two sources know them. The site's database, as the read_modules job last read it
    (`Site.module_depends`, ir_module_module_dependency at `modules_read_at`), is the truth of what runs:
    Odoo rewrites those rows from the code on disk at every `-u`, so it knows every installed addon,
    including the ones no change ever covered (a site's first change is compared with it). An approved
    (or overridden) change is what was agreed to ship, which the database only shows after the next
    update and read. Per addon the newer knowledge wins: the latest approved change when it was decided
    after the read (or the database does not list the addon), else the database. An addon in neither
    is unknown, not new (see _unknown_baseline)."""
    read_at = site.modules_read_at
    baseline = {name: list(deps) for name, deps in site.module_depends.items()} if read_at else {}
    for name, (depends, decided_at) in _approved_depends(site).items():
        if name not in baseline or read_at is None or decided_at > read_at:
            baseline[name] = depends
    return baseline


def _approved_depends(site: Site) -> dict[str, tuple[list[str], datetime]]:
    """Per addon, its direct depends in the latest approved (or overridden) change, and when that
    change was decided."""
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
    changes = {
        pk: (manifests, decided_at or created_at)
        for pk, manifests, decided_at, created_at in ManifestChange.objects.filter(
            pk__in=set(latest.values())
        ).values_list("pk", "manifests", "decided_at", "created_at")
    }
    return {
        name: (changes[cid][0][name]["depends"], changes[cid][1])
        for name, cid in latest.items()
        if name in changes[cid][0]
    }


def _unknown_baseline(verdict: dict[str, Any], baseline: dict[str, list[str]]) -> None:
    """An addon neither the site's database nor an approved change lists is unknown, not new (it may
    sit uninstalled on the image with other depends): say null, as without a baseline."""
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
