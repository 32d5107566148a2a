"""Uploaded archives land only in a fresh temporary folder; every trick is refused with its own error."""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from clusters.approvals.gate.addons import addon_dirs_under, discover_addons
from clusters.approvals.gate.archive import ArchiveLimits, unpack_archive
from clusters.approvals.gate.errors import ArchiveError

MANIFEST = b'{"name": "A", "version": "17.0.1.0.0", "depends": ["base"]}'
SMALL = ArchiveLimits(max_members=50, max_total_bytes=1 << 20, max_member_bytes=1 << 20)


def make_zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tgz(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def refused(archive: Path, tmp_parent: Path, limits: ArchiveLimits = SMALL) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        unpack_archive(archive, limits, tmp_parent=str(tmp_parent))
    assert list(tmp_parent.iterdir()) == [], "the temporary folder must be removed after a refusal"
    return info.value


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


def test_zip_of_a_repository_unpacks_and_its_addons_are_found(tmp_path: Path, scratch: Path) -> None:
    archive = make_zip(
        tmp_path / "change.zip",
        {
            "repo/my_addon/__manifest__.py": MANIFEST,
            "repo/my_addon/__init__.py": b"",
            "repo/README.md": b"hi",
        },
    )
    with unpack_archive(archive, tmp_parent=str(scratch)) as unpacked:
        assert unpacked.root.is_relative_to(scratch)
        paths = addon_dirs_under(unpacked.root)
        assert paths == [str(unpacked.root / "repo")]
        assert discover_addons(paths).addons["my_addon"].depends == ("base",)
    assert list(scratch.iterdir()) == []


def test_tar_gz_unpacks(tmp_path: Path, scratch: Path) -> None:
    archive = make_tgz(
        tmp_path / "change.tar.gz",
        [tar_member("my_addon", tarfile.DIRTYPE), tar_member("my_addon/__manifest__.py")],
        {"my_addon/__manifest__.py": MANIFEST},
    )
    with unpack_archive(archive, tmp_parent=str(scratch)) as unpacked:
        assert (unpacked.root / "my_addon" / "__manifest__.py").read_bytes() == MANIFEST
        assert addon_dirs_under(unpacked.root) == [str(unpacked.root)]


@pytest.mark.parametrize("name", ["../escape.py", "a/../../escape.py", "a/b/../../../escape.py"])
def test_dotdot_is_refused(tmp_path: Path, scratch: Path, name: str) -> None:
    error = refused(make_zip(tmp_path / "x.zip", {"ok.txt": b"", name: b"x"}), scratch)
    assert error.reason == "'..' in path refused" and error.member == name
    error = refused(make_tgz(tmp_path / "x.tgz", [tar_member(name)], {name: b"x"}), scratch)
    assert error.reason == "'..' in path refused"
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "C:/evil.py"])
def test_absolute_paths_are_refused(tmp_path: Path, scratch: Path, name: str) -> None:
    assert refused(make_zip(tmp_path / "x.zip", {name: b"x"}), scratch).reason == "absolute path refused"
    assert refused(make_tgz(tmp_path / "x.tgz", [tar_member(name)], {name: b"x"}), scratch).reason == (
        "absolute path refused"
    )


def test_symlinks_are_refused(tmp_path: Path, scratch: Path) -> None:
    zipped = make_zip(
        tmp_path / "x.zip", {"a/__init__.py": b""}, symlinks={"a/__manifest__.py": "/etc/passwd"}
    )
    assert refused(zipped, scratch).reason == "symlink refused"
    tarred = make_tgz(tmp_path / "x.tgz", [tar_member("a/__manifest__.py", tarfile.SYMTYPE, "/etc/passwd")])
    assert refused(tarred, scratch).reason == "symlink refused"


def test_hardlinks_and_devices_are_refused(tmp_path: Path, scratch: Path) -> None:
    tarred = make_tgz(tmp_path / "h.tgz", [tar_member("a/hard", tarfile.LNKTYPE, "/etc/shadow")])
    assert refused(tarred, scratch).reason == "hard link refused"
    for kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        tarred = make_tgz(tmp_path / "d.tgz", [tar_member("a/dev", kind)])
        assert refused(tarred, scratch).reason == "special file refused"


def test_zip_bomb_is_refused_by_declared_sizes_before_anything_is_written(
    tmp_path: Path, scratch: Path
) -> None:
    zeros = b"\0" * (4 << 20)  # 4 MiB of zeros deflate to ~4 KiB
    bomb = make_zip(tmp_path / "bomb.zip", {f"f{i}": zeros for i in range(4)})
    assert bomb.stat().st_size < 100_000
    error = refused(bomb, scratch)
    assert "declares" in error.reason or "declared sizes" in error.reason


def test_zip_bomb_lying_about_its_size_is_caught_while_extracting(tmp_path: Path, scratch: Path) -> None:
    bomb = make_zip(tmp_path / "liar.zip", {"f": b"\0" * (8 << 20)})
    raw = bytearray(bomb.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 100)  # central directory: uncompressed size = 100
    bomb.write_bytes(bytes(raw))
    error = refused(bomb, scratch)
    assert "cannot be extracted" in error.reason or "size limit while extracting" in error.reason


def test_tar_gz_bomb_is_refused(tmp_path: Path, scratch: Path) -> None:
    names = [f"f{i}" for i in range(8)]
    bomb = make_tgz(
        tmp_path / "bomb.tgz", [tar_member(n) for n in names], {n: b"\0" * (512 << 10) for n in names}
    )
    assert bomb.stat().st_size < 100_000
    assert "expands beyond" in refused(bomb, scratch).reason


def test_too_many_members_is_refused(tmp_path: Path, scratch: Path) -> None:
    many = make_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(60)})
    assert "members" in refused(many, scratch).reason


def test_not_an_archive_is_refused(tmp_path: Path, scratch: Path) -> None:
    fake = tmp_path / "change.zip"
    fake.write_bytes(b"#!/bin/sh\necho hi\n")
    assert "neither a .zip nor a .tar.gz" in refused(fake, scratch).reason


def test_duplicate_members_do_not_overwrite(tmp_path: Path, scratch: Path) -> None:
    dup = tmp_path / "dup.tgz"
    make_tgz(dup, [tar_member("a"), tar_member("a")], {"a": b"first"})
    assert refused(dup, scratch).reason == "duplicate member"
