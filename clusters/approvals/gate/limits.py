"""Bounds for one uploaded archive: what it may hold, and what unpacking it may cost."""

from __future__ import annotations

from dataclasses import dataclass

# A zip central directory entry's fixed part, before its name, extra field and comment.
CENTRAL_ENTRY_BYTES = 46


@dataclass(frozen=True)
class ArchiveLimits:
    """The defaults fit a large addons repository with its static files.

    max_header_bytes bounds every header a parser would read whole: a tar's pax and GNU long-name
    headers (tarfile reads them into memory, and before Python 3.11.10 parses pax records in time
    quadratic in their size, CVE-2024-6232) and a zip entry's extra field plus comment. The last three
    bound the child process that unpacks: its address space, its CPU time, and the parent's wait.
    """

    max_members: int = 100_000
    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 256 << 20
    max_name_length: int = 1024
    max_depth: int = 32
    max_header_bytes: int = 8 << 10
    max_memory_bytes: int = 512 << 20
    max_cpu_seconds: int = 60
    max_wall_seconds: int = 120

    @property
    def max_directory_bytes(self) -> int:
        """A zip's central directory may hold max_members entries with the longest names allowed."""
        return self.max_members * (CENTRAL_ENTRY_BYTES + self.max_name_length)
