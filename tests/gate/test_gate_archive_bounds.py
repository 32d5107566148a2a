"""Hostile archive headers are refused by their declared size before a parser reads them, and whatever a
parser does runs in a child process with memory and CPU limits, never in the caller.

The tar archives are written block by block through gzip, so a 64 MiB header costs this test a few
KiB of memory; the caller's peak RSS is then measured around the refusal (VmHWM, reset first).
"""

from __future__ import annotations

import gzip
import io
import resource
import struct
import tarfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clusters.approvals.gate.archive import ArchiveLimits, unpack_archive
from clusters.approvals.gate.errors import ArchiveError

SMALL = ArchiveLimits(max_members=50, max_total_bytes=1 << 20, max_member_bytes=1 << 20)
MANIFEST = b'{"name": "A", "depends": ["base"]}'
MIB_OF_ZEROS = bytes(1 << 20)
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
EOCD = struct.Struct("<4s4H2LH")


def header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT)


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> Iterator[bytes]:
    yield header(name, kind, len(data))
    yield data + bytes(-len(data) % 512)


def zeros_header(kind: bytes, mib: int) -> Iterator[bytes]:
    yield header("././@LongLink", kind, mib << 20)
    for _ in range(mib):
        yield MIB_OF_ZEROS


def tgz(path: Path, *parts: Iterable[bytes]) -> Path:
    with gzip.open(path, "wb", compresslevel=1) as out:
        for part in parts:
            for chunk in part:
                out.write(chunk)
        out.write(bytes(1024))
    return path


def refused(archive: Path, scratch: Path, limits: ArchiveLimits = SMALL) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        unpack_archive(archive, limits, tmp_parent=str(scratch))
    assert list(scratch.iterdir()) == [], "the temporary folder must be removed after a refusal"
    return info.value


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def child_cpu_seconds() -> float:
    """CPU time of this process's finished children: the unpacking child's cost, whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def peak_growth_kib() -> Iterator[list[int]]:
    """How much this process's peak RSS grew during the block, in KiB (appended on exit)."""
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = _vm("VmHWM")
    growth: list[int] = []
    yield growth
    growth.append(_vm("VmHWM") - before)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


def test_a_64_mib_gnu_long_name_is_refused_and_the_caller_does_not_grow(
    tmp_path: Path, scratch: Path
) -> None:
    archive = tgz(tmp_path / "long.tgz", zeros_header(tarfile.GNUTYPE_LONGNAME, 64), member("a", MANIFEST))
    assert archive.stat().st_size < 1 << 20
    spent = child_cpu_seconds()
    with peak_growth_kib() as growth:
        error = refused(archive, scratch, ArchiveLimits())
    assert growth[0] < 8 << 10, f"the caller's peak RSS grew by {growth[0]:,} KiB"
    assert child_cpu_seconds() - spent < 1
    assert "GNU long name or link header of 67,108,864 bytes" in error.reason


def test_a_pax_header_of_100k_digits_is_refused_in_well_under_a_second(tmp_path: Path, scratch: Path) -> None:
    archive = tgz(tmp_path / "pax.tgz", member("pax", b"1" * 100_000, tarfile.XHDTYPE), member("a", MANIFEST))
    started, spent = time.perf_counter(), child_cpu_seconds()
    error = refused(archive, scratch, ArchiveLimits())
    assert child_cpu_seconds() - spent < 0.5  # the parse itself: about 12 s on an unfixed 3.11
    assert time.perf_counter() - started < 5  # a generous bound for starting a child on a busy machine
    assert error.reason == "a pax header of 100,000 bytes; the limit is 8,192"


@pytest.mark.parametrize(
    "kind, what",
    [
        (tarfile.XGLTYPE, "pax"),
        (tarfile.SOLARIS_XHDTYPE, "pax"),
        (tarfile.GNUTYPE_LONGLINK, "GNU long name or link"),
    ],
)
def test_every_kind_of_extended_header_is_bounded(
    tmp_path: Path, scratch: Path, kind: bytes, what: str
) -> None:
    archive = tgz(tmp_path / "x.tgz", zeros_header(kind, 2), member("a", MANIFEST))
    assert refused(archive, scratch).reason == f"a {what} header of 2,097,152 bytes; the limit is 8,192"


@pytest.mark.parametrize(
    "record, reason",
    [
        (b"16 size=1000000\n", "a pax header overriding a member's size or sparse layout refused"),
        (b"23 GNU.sparse.map=0,10\n", "a pax header overriding a member's size or sparse layout refused"),
    ],
)
def test_pax_records_that_move_the_next_header_are_refused(
    tmp_path: Path, scratch: Path, record: bytes, reason: str
) -> None:
    archive = tgz(tmp_path / "x.tgz", member("pax", record, tarfile.XHDTYPE), member("a", MANIFEST))
    assert refused(archive, scratch).reason == reason


def test_sparse_members_chains_of_headers_and_bad_checksums_are_refused(
    tmp_path: Path, scratch: Path
) -> None:
    sparse = tgz(tmp_path / "s.tgz", member("a", b"x", tarfile.GNUTYPE_SPARSE))
    assert refused(sparse, scratch).reason == "GNU sparse member refused"
    names = [member("././@LongLink", b"a\0", tarfile.GNUTYPE_LONGNAME) for _ in range(9)]
    chain = tgz(tmp_path / "c.tgz", *names, member("a", MANIFEST))
    assert refused(chain, scratch).reason == "more than 8 extended headers in a row"
    broken = bytearray(header("b", tarfile.REGTYPE, 0))
    broken[0:1] = b"c"  # the checksum no longer matches: tarfile would silently stop here
    bad = tgz(tmp_path / "b.tgz", member("a", MANIFEST), [bytes(broken)], member("../escape", b"x"))
    assert refused(bad, scratch).reason == "not a valid tar header (bad checksum)"


def test_global_pax_headers_are_bounded_in_all(tmp_path: Path, scratch: Path) -> None:
    half = list(member("g", b"5000 comment=" + b"x" * 4986 + b"\n", tarfile.XGLTYPE))
    archive = tgz(tmp_path / "g.tgz", half, member("a", MANIFEST), half, member("b", MANIFEST))
    assert refused(archive, scratch).reason == "global pax headers over 8,192 bytes in all"


def test_ordinary_pax_and_gnu_archives_still_unpack(tmp_path: Path, scratch: Path) -> None:
    deep = "addons/" + "long_folder_name_" * 10 + "/__manifest__.py"  # over ustar's 100 characters
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        path = tmp_path / f"ok{fmt}.tgz"
        with tarfile.open(path, "w:gz", format=fmt, pax_headers={"comment": "0123abc"}) as tf:
            info = tarfile.TarInfo(deep)
            info.size = len(MANIFEST)
            tf.addfile(info, io.BytesIO(MANIFEST))
        with unpack_archive(path, SMALL, tmp_parent=str(scratch)) as unpacked:
            assert (unpacked.root / deep).read_bytes() == MANIFEST


def central_directory_zip(path: Path, entries: int, declared: int) -> Path:
    """A zip of `entries` minimal directory entries whose end record declares `declared` of them."""
    entry = CENTRAL.pack(b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    with open(path, "wb") as out:
        out.write(b"PK\x03\x04" + bytes(26))
        for count in (10_000,) * (entries // 10_000) + (entries % 10_000,):
            out.write(entry * count)
        size = len(entry) * entries
        out.write(EOCD.pack(b"PK\x05\x06", 0, 0, declared, declared, size, 30, 0))
    return path


def test_a_zip_declaring_too_many_entries_is_refused_from_its_end_record(
    tmp_path: Path, scratch: Path
) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(60):
            zf.writestr(f"f{i}", b"")
    assert refused(many, scratch).reason == "60 members declared; the limit is 50"


def test_a_zip64_end_record_declaring_billions_of_entries_is_refused(tmp_path: Path, scratch: Path) -> None:
    path = tmp_path / "z64.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a/__manifest__.py", MANIFEST)
    raw = path.read_bytes()
    end = raw.rfind(b"PK\x05\x06")
    _, _, _, _, _, size, offset, _ = EOCD.unpack(raw[end : end + EOCD.size])
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1 << 40, 1 << 40, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    path.write_bytes(raw[:end] + record + locator + raw[end:])
    assert refused(path, scratch).reason == f"{1 << 40:,} members declared; the limit is 50"


def test_a_lying_end_record_is_caught_walking_the_directory_without_growing(
    tmp_path: Path, scratch: Path
) -> None:
    archive = central_directory_zip(tmp_path / "liar.zip", 300_000, declared=1)
    spent = child_cpu_seconds()
    with peak_growth_kib() as growth:
        error = refused(archive, scratch, ArchiveLimits())
    assert growth[0] < 8 << 10, f"the caller's peak RSS grew by {growth[0]:,} KiB"
    assert child_cpu_seconds() - spent < 1
    assert error.reason == "more than 100,000 members"


def test_an_oversized_directory_or_extra_field_is_refused(tmp_path: Path, scratch: Path) -> None:
    archive = central_directory_zip(tmp_path / "big.zip", 10, declared=10)
    raw = bytearray(archive.read_bytes())
    struct.pack_into("<L", raw, len(raw) - EOCD.size + 12, 10 << 20)  # directory size: 10 MiB
    archive.write_bytes(bytes(raw))
    assert refused(archive, scratch).reason == "a central directory of 10,485,760 bytes; the limit is 53,500"
    extra = tmp_path / "extra.zip"
    with zipfile.ZipFile(extra, "w") as zf:
        info = zipfile.ZipInfo("a/__manifest__.py")
        info.extra = struct.pack("<2H", 0xCAFE, 60_000) + bytes(60_000)
        zf.writestr(info, MANIFEST)
    assert "extra field and comment take 60,004 bytes" in refused(extra, scratch, ArchiveLimits()).reason


def test_a_child_over_its_memory_limit_is_refused(tmp_path: Path, scratch: Path) -> None:
    """The header bound raised out of the way: the child's own limit still holds the parse."""
    archive = tgz(tmp_path / "long.tgz", zeros_header(tarfile.GNUTYPE_LONGNAME, 64), member("a", MANIFEST))
    limits = ArchiveLimits(max_header_bytes=1 << 30, max_memory_bytes=48 << 20)
    with peak_growth_kib() as growth:
        error = refused(archive, scratch, limits)
    assert error.reason == "the archive took more than 48 MiB to unpack"
    assert growth[0] < 8 << 10


def long_inflation(path: Path, gib: int) -> Path:
    """A .tar.gz of a few MiB whose one member inflates to `gib` GiB of zeros: gzip members of 64 MiB
    of zeros, compressed once and repeated, so the child spends seconds of CPU reading it on any Python
    (the quadratic pax parse of CVE-2024-6232 is fixed in newer ones, this costs every version)."""
    chunk = gzip.compress(bytes(64 << 20), compresslevel=1)
    with path.open("wb") as out:
        out.write(gzip.compress(header("big", tarfile.REGTYPE, gib << 30)))
        for _ in range(gib * 16):
            out.write(chunk)
        out.write(gzip.compress(b"".join(member("a", MANIFEST)) + bytes(1024)))
    return path


def test_a_parse_that_runs_long_is_stopped_by_cpu_and_wall_clock_limits(
    tmp_path: Path, scratch: Path
) -> None:
    archive = long_inflation(tmp_path / "long.tgz", 6)
    big = {"max_total_bytes": 8 << 30, "max_member_bytes": 8 << 30}
    raised = ArchiveLimits(**big, max_cpu_seconds=1)
    assert refused(archive, scratch, raised).reason == "the archive took more than 1 s of CPU to unpack"
    started = time.perf_counter()
    waited = ArchiveLimits(**big, max_cpu_seconds=30, max_wall_seconds=1)
    assert refused(archive, scratch, waited).reason == "the archive took more than 1 s to unpack"
    assert time.perf_counter() - started < 10
