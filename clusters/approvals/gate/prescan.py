"""Walk an archive's headers before tarfile or zipfile parses them, holding one bounded header at a time.

tarfile reads a whole pax or GNU long-name header into memory, and before Python 3.11.10 parses pax
records in time quadratic in their size (CVE-2024-6232); zipfile reads a whole central directory
before anyone can count its entries. Here each header is refused by its declared size before it is
read, member data is skipped in chunks, and the walk follows the same rules as the parser after it
(which types carry data, where a zip's directory starts), so that the parser meets no header the walk
did not see.
"""

from __future__ import annotations

import re
import struct
import tarfile
from typing import IO, Protocol

from clusters.approvals.gate.errors import ArchiveError
from clusters.approvals.gate.limits import CENTRAL_ENTRY_BYTES, ArchiveLimits

BLOCK = 512
SKIP_CHUNK = 1 << 20
PAX_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
META_TYPES = (*PAX_TYPES, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
# Headers that describe the next member; a real archive has at most a few in a row (tarfile recurses).
MAX_META_IN_A_ROW = 8
# Pax records that move where tarfile looks for the next header; no addons archive needs them.
PAX_LAYOUT_RECORD = re.compile(rb"[0-9] (?:size=|GNU\.sparse\.)")

EOCD = struct.Struct("<4s4H2LH")
EOCD64_LOCATOR = struct.Struct("<4sLQL")
EOCD64 = struct.Struct("<4sQ2H2L4Q")
ZIP_TAIL_SEARCH = (1 << 16) + EOCD.size


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def scan_tar(stream: Readable, limits: ArchiveLimits) -> None:
    """Refuse a tar stream with an oversized or malformed header, too many members or too many bytes."""
    members = in_a_row = total = global_pax = 0
    while True:
        block = _read_exact(stream, BLOCK, at_end_ok=True)
        if not block or block.count(0) == BLOCK:  # end of archive, where tarfile stops too
            return
        kind, size, name = _tar_header(block)
        if kind in META_TYPES:
            in_a_row += 1
            if in_a_row > MAX_META_IN_A_ROW:
                raise ArchiveError(f"more than {MAX_META_IN_A_ROW} extended headers in a row")
            _bounded_header(stream, kind, size, limits)
            if kind == tarfile.XGLTYPE:
                global_pax += size
                if global_pax > limits.max_header_bytes:
                    raise ArchiveError(f"global pax headers over {limits.max_header_bytes:,} bytes in all")
            continue
        in_a_row = 0
        members += 1
        if members > limits.max_members:
            raise ArchiveError(f"more than {limits.max_members:,} members", name)
        if kind == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError("GNU sparse member refused", name)
        if _carries_data(kind, name):
            total += _declared(size, name, total, limits)
            _skip(stream, _blocks(size))


def _tar_header(block: bytes) -> tuple[bytes, int, str]:
    """The type flag, size and name of a 512-byte header, read as tarfile.TarInfo.frombuf reads them."""
    checksum = _tar_number(block[148:156])
    unsigned = 256 + sum(block[:148]) + sum(block[156:])
    signed = 256 + sum(struct.unpack("148b", block[:148])) + sum(struct.unpack("356b", block[156:]))
    if checksum not in (unsigned, signed):
        raise ArchiveError("not a valid tar header (bad checksum)")
    size = _tar_number(block[124:136])
    name = block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
    if size < 0:
        raise ArchiveError("a negative size in a tar header", name)
    return block[156:157], size, name


def _tar_number(field: bytes) -> int:
    """tarfile.nti: base-256 when the first byte says so, else octal digits up to a NUL."""
    if field[0] in (0o200, 0o377):
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    try:
        return int(field.split(b"\0", 1)[0].decode("ascii").strip() or "0", 8)
    except (UnicodeDecodeError, ValueError):
        raise ArchiveError("not a valid tar header (a number field is not octal)") from None


def _bounded_header(stream: Readable, kind: bytes, size: int, limits: ArchiveLimits) -> None:
    what = "pax" if kind in PAX_TYPES else "GNU long name or link"
    if size > limits.max_header_bytes:
        raise ArchiveError(f"a {what} header of {size:,} bytes; the limit is {limits.max_header_bytes:,}")
    data = _read_exact(stream, _blocks(size))[:size]
    if kind in PAX_TYPES and PAX_LAYOUT_RECORD.search(data):
        raise ArchiveError("a pax header overriding a member's size or sparse layout refused")


def _carries_data(kind: bytes, name: str) -> bool:
    """tarfile skips data after regular files and unknown types only (an old-style dir has none)."""
    if kind == tarfile.AREGTYPE and name.endswith("/"):
        return False
    return kind in tarfile.REGULAR_TYPES or kind not in tarfile.SUPPORTED_TYPES


def _declared(size: int, name: str, total: int, limits: ArchiveLimits) -> int:
    if size > limits.max_member_bytes:
        raise ArchiveError(
            f"declares {size:,} bytes; the limit per file is {limits.max_member_bytes:,}", name
        )
    if total + size > limits.max_total_bytes:
        raise ArchiveError(f"expands beyond {limits.max_total_bytes:,} bytes (declared sizes)", name)
    return size


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _read_exact(stream: Readable, size: int, at_end_ok: bool = False) -> bytes:
    data = stream.read(size)
    if len(data) != size and not (at_end_ok and not data):
        raise ArchiveError("the archive ends inside a member (truncated)")
    return data


def _skip(stream: Readable, size: int) -> None:
    while size > 0:
        chunk = len(stream.read(min(size, SKIP_CHUNK)))
        if not chunk:
            raise ArchiveError("the archive ends inside a member (truncated)")
        size -= chunk


def scan_zip(fh: IO[bytes], limits: ArchiveLimits) -> None:
    """Refuse a zip whose end record declares more entries or directory bytes than the limits allow,
    then walk the directory an entry at a time (it is never read whole) and count what is there."""
    end = _zip_end(fh)
    if end is None:
        raise ArchiveError("not a readable zip archive (no end of central directory record)")
    entries, size, start = end
    if entries > limits.max_members:
        raise ArchiveError(f"{entries:,} members declared; the limit is {limits.max_members:,}")
    if size > limits.max_directory_bytes:
        raise ArchiveError(
            f"a central directory of {size:,} bytes; the limit is {limits.max_directory_bytes:,}"
        )
    if start < 0:
        raise ArchiveError("not a readable zip archive (bad offset for central directory)")
    _walk_directory(fh, start, size, limits)


def _zip_end(fh: IO[bytes]) -> tuple[int, int, int] | None:
    """(entries declared, directory size, directory start), found as zipfile._EndRecData finds them."""
    filesize = fh.seek(0, 2)
    if filesize < EOCD.size:
        return None
    location = filesize - EOCD.size
    fh.seek(location)
    record = fh.read(EOCD.size)
    if not (record[:4] == b"PK\x05\x06" and record[-2:] == b"\0\0"):
        tail_start = max(filesize - ZIP_TAIL_SEARCH, 0)
        fh.seek(tail_start)
        tail = fh.read(ZIP_TAIL_SEARCH)
        found = tail.rfind(b"PK\x05\x06")
        if found < 0 or len(tail) - found < EOCD.size:
            return None
        record, location = tail[found : found + EOCD.size], tail_start + found
    _, _, _, on_disk, total, size, _, _ = EOCD.unpack(record)
    zip64 = _zip64_end(fh, location)
    if zip64 is None:
        return max(on_disk, total), size, location - size
    entries, size = zip64
    return entries, size, location - size - EOCD64.size - EOCD64_LOCATOR.size


def _zip64_end(fh: IO[bytes], location: int) -> tuple[int, int] | None:
    """(entries, directory size) of the zip64 end record, when zipfile._EndRecData64 would use it."""
    if location < EOCD64_LOCATOR.size:
        return None
    fh.seek(location - EOCD64_LOCATOR.size)
    locator = fh.read(EOCD64_LOCATOR.size)
    signature, disk, _, disks = EOCD64_LOCATOR.unpack(locator)
    if signature != b"PK\x06\x07":
        return None
    if disk != 0 or disks > 1:
        raise ArchiveError("not a readable zip archive (it spans several disks)")
    if location < EOCD64_LOCATOR.size + EOCD64.size:
        raise ArchiveError("not a readable zip archive (bad zip64 end record)")
    fh.seek(location - EOCD64_LOCATOR.size - EOCD64.size)
    record = fh.read(EOCD64.size)
    if len(record) != EOCD64.size or record[:4] != b"PK\x06\x06":
        return None
    on_disk, total, size = EOCD64.unpack(record)[6:9]
    return max(on_disk, total), size


def _walk_directory(fh: IO[bytes], start: int, size: int, limits: ArchiveLimits) -> None:
    fh.seek(start)
    walked = entries = 0
    while walked < size:
        fixed = fh.read(CENTRAL_ENTRY_BYTES)
        if len(fixed) != CENTRAL_ENTRY_BYTES or fixed[:4] != b"PK\x01\x02":
            raise ArchiveError("not a readable zip archive (damaged central directory)")
        entries += 1
        if entries > limits.max_members:
            raise ArchiveError(f"more than {limits.max_members:,} members")
        name_length, extra_length, comment_length = struct.unpack_from("<3H", fixed, 28)
        if extra_length + comment_length > limits.max_header_bytes:
            raise ArchiveError(
                f"an entry's extra field and comment take {extra_length + comment_length:,} bytes; "
                f"the limit is {limits.max_header_bytes:,}"
            )
        fh.seek(name_length + extra_length + comment_length, 1)
        walked += CENTRAL_ENTRY_BYTES + name_length + extra_length + comment_length
