"""Unpack an uploaded addons archive (.zip, .tar.gz) into a fresh temporary folder, and only there.

Every member is checked before anything is written: no absolute paths, no `..`, no links, devices or
FIFOs, nothing encrypted; and the archive is bounded in member count and expanded size twice, once by
the sizes it declares (refused before extracting) and once by counting the bytes actually produced while
extracting (a zip bomb can lie in its headers, a gzip stream declares nothing). Files are created with
O_EXCL | O_NOFOLLOW in a folder made by mkdtemp, so a duplicate or crafted member cannot overwrite
anything. On any refusal the whole temporary folder is removed.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from zlib import error as zlib_error

from clusters.approvals.gate.errors import ArchiveError

CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds for one upload; the defaults fit a large addons repository with its static files."""

    max_members: int = 100_000
    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 256 << 20
    max_name_length: int = 1024
    max_depth: int = 32


class UnpackedArchive:
    """A temporary folder holding the archive's files; use as a context manager or call cleanup()."""

    def __init__(self, tmpdir: str) -> None:
        self.tmpdir = tmpdir
        self.root = Path(tmpdir) / "root"

    def cleanup(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> UnpackedArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def unpack_archive(
    archive: str | os.PathLike[str], limits: ArchiveLimits | None = None, tmp_parent: str | None = None
) -> UnpackedArchive:
    """Unpack into a new temporary folder; ArchiveError names the member and the rule it broke."""
    limits = limits or ArchiveLimits()
    path = os.fspath(archive)
    kind = _kind(path)
    unpacked = UnpackedArchive(tempfile.mkdtemp(prefix="gate-", dir=tmp_parent))
    try:
        os.mkdir(unpacked.root, 0o700)
        if kind == "zip":
            _unzip(path, unpacked.root, limits)
        else:
            _untar(path, unpacked.root, limits)
    except BaseException:
        unpacked.cleanup()
        raise
    return unpacked


def _kind(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc.strerror}") from None
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        return "zip"
    if magic.startswith(b"\x1f\x8b"):
        return "tar.gz"
    raise ArchiveError(f"{os.path.basename(path)} is neither a .zip nor a .tar.gz archive")


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
        # Streaming mode: members are checked and written one at a time, never seeking back.
        with tarfile.open(path, mode="r|gz") as tf:
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
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        raise ArchiveError(f"not a readable .tar.gz archive ({exc})") from None


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        yield member
