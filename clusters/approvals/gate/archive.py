"""Unpack an uploaded addons archive (.zip, .tar.gz) into a fresh temporary folder, and only there.

The work happens in a child process with memory, CPU and file-size limits (gate.confined): its headers
are first walked with bounds (gate.prescan), then every member is checked before anything is written
(gate.extract). The folder is made by mkdtemp; on any refusal the whole of it is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from clusters.approvals.gate.confined import unpack_in_child
from clusters.approvals.gate.errors import ArchiveError
from clusters.approvals.gate.extract import safe_member_path
from clusters.approvals.gate.limits import ArchiveLimits

__all__ = ["ArchiveLimits", "UnpackedArchive", "safe_member_path", "unpack_archive"]


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
    path = os.path.abspath(os.fspath(archive))
    kind = _kind(path)
    unpacked = UnpackedArchive(os.path.abspath(tempfile.mkdtemp(prefix="gate-", dir=tmp_parent)))
    try:
        os.mkdir(unpacked.root, 0o700)
        unpack_in_child(path, kind, os.fspath(unpacked.root), limits)
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
