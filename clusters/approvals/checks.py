"""System checks of the approval gate: the Python that parses uploaded archives.

Before the fixes of CVE-2024-6232 (3.8.20, 3.9.20, 3.10.15, 3.11.10, 3.12.6; 3.13 has it), tarfile
parses a pax header in time quadratic in its size while holding the GIL. The gate bounds every pax
header (ARCHIVE_MAX_HEADER_BYTES) before tarfile sees it and parses only in a child process with a CPU
limit, so an unfixed Python is reported, not refused: refusing to start would leave a machine that
cannot upgrade without its panel. Raising the bound far on an unfixed Python is refused.
"""

from __future__ import annotations

from sys import version_info
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, register

CVE = "CVE-2024-6232"
FIXED_MICRO = {(3, 8): 20, (3, 9): 20, (3, 10): 15, (3, 11): 10, (3, 12): 6}
# 16 KiB of digits take about 0.5 s to parse on an unfixed 3.11 (8 KiB: 0.1 s, 64 KiB: 5 s).
UNFIXED_SAFE_HEADER_BYTES = 16 << 10


def python_has_the_fix(version: tuple[int, ...]) -> bool:
    major, minor, micro = version[:3]
    fixed = FIXED_MICRO.get((major, minor))
    if fixed is None:
        return (major, minor) > (3, 12)
    return micro >= fixed


@register(Tags.security)
def check_tarfile_cve(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if python_has_the_fix(version_info[:3]):
        return []
    python = ".".join(map(str, version_info[:3]))
    bound: int = settings.ARCHIVE_MAX_HEADER_BYTES
    if bound > UNFIXED_SAFE_HEADER_BYTES:
        return [
            Error(
                f"Python {python} has {CVE} (tarfile parses pax headers in quadratic time) and "
                f"PANEL_ARCHIVE_MAX_HEADER_BYTES={bound:,} lets a pax header that large through.",
                hint=f"Upgrade Python (3.11.10, 3.12.6 or later), or keep the bound at "
                f"{UNFIXED_SAFE_HEADER_BYTES:,} bytes or less (the default is 8,192).",
                id="approvals.E001",
            )
        ]
    return [
        Info(
            f"Python {python} has {CVE} (tarfile parses pax headers in quadratic time). Mitigated: pax "
            f"and GNU long-name headers over {bound:,} bytes are refused before tarfile sees them, and "
            f"archives are parsed only in a child process with "
            f"{settings.ARCHIVE_UNPACK_CPU_SECONDS} s of CPU and "
            f"{settings.ARCHIVE_UNPACK_MEMORY_BYTES >> 20} MiB of memory.",
            hint="Upgrade Python to 3.11.10, 3.12.6 or later.",
            id="approvals.I001",
        )
    ]
