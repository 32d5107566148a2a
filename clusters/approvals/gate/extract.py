"""Extract an archive into an empty folder: the work of the unpacking child (gate.confined).

Every member is checked before it is written: no absolute paths, no `..`, no links, devices or FIFOs,
nothing encrypted; and the archive is bounded in member count and expanded size twice, once by the
sizes it declares (refused before extracting) and once by counting the bytes actually produced while
extracting (a zip bomb can lie in its headers, a gzip stream declares nothing). Before that, the
headers are walked with bounds (gate.prescan), so no parser reads an oversized one. Files are created
with O_EXCL | O_NOFOLLOW, so a duplicate or crafted member cannot overwrite anything.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from zlib import error as zlib_error

from clusters.approvals.gate.errors import ArchiveError
from clusters.approvals.gate.limits import ArchiveLimits
from clusters.approvals.gate.prescan import scan_tar, scan_zip

CHUNK = 1 << 16
UNREADABLE_TAR = (tarfile.TarError, EOFError, OSError, zlib_error)


def extract(path: str, kind: str, root: Path, limits: ArchiveLimits) -> None:
    """Walk the headers with bounds, then extract into root (an empty folder); ArchiveError on a refusal."""
    if kind == "zip":
        try:
            with open(path, "rb") as fh:
                scan_zip(fh, limits)
        except OSError as exc:
            raise ArchiveError(f"not a readable zip archive ({exc})") from None
        _unzip(path, root, limits)
        return
    try:
        with gzip.GzipFile(path, "rb") as stream:
            scan_tar(stream, limits)
    except UNREADABLE_TAR as exc:
        raise ArchiveError(f"not a readable .tar.gz archive ({exc})") from None
    _untar(path, root, limits)


def safe_member_path(name: str, limits: ArchiveLimits) -> list[str]:
    """The member's path parts, or ArchiveError if it could land outside the folder or is odd."""
    if not name or len(name) > limits.max_name_length:
        raise ArchiveError("empty or overlong member name", name[:80])
    if "\x00" in name or "\\" in name:
        raise ArchiveError("NUL or backslash in member name", name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError("absolute path refused", name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError("'..' in path refused", name)
    if not parts:
        raise ArchiveError("member names the archive root", name)
    if len(parts) > limits.max_depth:
        raise ArchiveError(f"more than {limits.max_depth} folders deep", name)
    return parts


class _Budget:
    """Counts members and bytes actually written, whatever the headers declared."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveError(f"more than {self.limits.max_members:,} members", name)

    def declared(self, name: str, size: int) -> None:
        if size > self.limits.max_member_bytes:
            raise ArchiveError(
                f"declares {size:,} bytes; the limit per file is {self.limits.max_member_bytes:,}", name
            )
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise ArchiveError(f"expands beyond {self.limits.max_total_bytes:,} bytes (declared sizes)", name)

    def copy(self, src: IO[bytes], dest: Path, name: str) -> None:
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise ArchiveError(f"cannot be created ({exc.strerror})", name) from None
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.max_member_bytes or self.total > self.limits.max_total_bytes:
                    raise ArchiveError("expands beyond the size limit while extracting (zip bomb?)", name)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise ArchiveError(f"cannot be written ({exc.strerror})", name) from None


def _mkdir(folder: Path, name: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a file already holds that name
        raise ArchiveError(f"cannot create its folder ({exc.strerror})", name) from None


def _target(root: Path, parts: list[str], name: str) -> Path:
    _mkdir(root.joinpath(*parts[:-1]), name)
    target = root.joinpath(*parts)
    if os.path.lexists(target):
        raise ArchiveError("duplicate member", name)
    return target


def _unzip(path: str, root: Path, limits: ArchiveLimits) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveError(f"{len(infos):,} members; the limit is {limits.max_members:,}")
        check = _Budget(limits)
        for info in infos:  # refuse the whole archive before writing anything
            safe_member_path(info.filename, limits)
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = "symlink" if stat.S_ISLNK(mode) else "special file"
                raise ArchiveError(f"{kind} refused", info.filename)
            if info.flag_bits & 0x1:
                raise ArchiveError("encrypted member refused", info.filename)
            if not info.is_dir():
                check.declared(info.filename, info.file_size)
        budget = _Budget(limits)
        for info in infos:
            parts = safe_member_path(info.filename, limits)
            budget.member(info.filename)
            if info.is_dir():
                _mkdir(root.joinpath(*parts), info.filename)
                continue
            target = _target(root, parts, info.filename)
            try:
                with zf.open(info) as src:
                    budget.copy(src, target, info.filename)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, zlib_error) as exc:
                raise ArchiveError(f"cannot be extracted ({exc})", info.filename) from None


def _untar(path: str, root: Path, limits: ArchiveLimits) -> None:
    budget = _Budget(limits)
    try:
        # Streaming mode over the same GzipFile stream the pre-scan walked: members are checked and
        # written one at a time, never seeking back.
        with gzip.GzipFile(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
            for member in _members(tf):
                parts = safe_member_path(member.name, limits)
                budget.member(member.name)
                if member.isdir():
                    _mkdir(root.joinpath(*parts), member.name)
                    continue
                if not member.isreg():
                    kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
                    raise ArchiveError(f"{kind} refused", member.name)
                budget.declared(member.name, member.size)
                target = _target(root, parts, member.name)
                src = tf.extractfile(member)
                if src is None:
                    raise ArchiveError("has no data", member.name)
                budget.copy(src, target, member.name)
    except UNREADABLE_TAR as exc:
        raise ArchiveError(f"not a readable .tar.gz archive ({exc})") from None


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members one by one; tarfile's own list of them is emptied so memory does not grow with it."""
    while (member := tf.next()) is not None:
        tf.members.clear()  # type: ignore[attr-defined]  # a list in every CPython since 3.0
        yield member
