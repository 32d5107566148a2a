"""The audit benchmark's reads of the whole log: the CSV export through the view (the server writes
the CSV with COPY on PostgreSQL, the view relays it in blocks), the same export the portable way for
scale, and `audit verify` over the chain. Each prints its figures."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Any

from bench._run import CannotMeasure


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Export:
    rows: int
    rows_per_s: float
    rss_growth_mb: float


def export_csv(client: Any) -> Export:
    """Every event through the view, memory sampled at every 25th chunk; CannotMeasure when rows are
    missing from it."""
    from panel.models import AuditEvent

    rows_total = AuditEvent.objects.count()
    rss_start = rss_mb()
    rss_peak = rss_start
    started = time.perf_counter()
    response = client.get("/audit/export.csv")
    newlines = size = chunks = 0
    for chunk in response.streaming_content:
        newlines += chunk.count(b"\n")
        size += len(chunk)
        chunks += 1
        if chunks % 25 == 0:
            rss_peak = max(rss_peak, rss_mb())
    export_s = time.perf_counter() - started
    rss_peak = max(rss_peak, rss_mb())
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    exported = newlines - 1  # the header
    rows_per_s = exported / export_s
    print(
        f"\nCSV export: {exported:,} rows ({size / 2**20:.0f} MiB, {chunks} chunks) in {export_s:.1f}s = "
        f"{rows_per_s:,.0f} rows/s; RSS {rss_start:.0f} MiB before, {rss_peak:.0f} MiB peak during "
        f"(+{rss_peak - rss_start:.1f} MiB); process max RSS {max_rss:.0f} MiB"
    )
    if exported < rows_total:
        raise CannotMeasure(f"the export saw {exported:,} of {rows_total:,} rows")
    return Export(exported, rows_per_s, rss_peak - rss_start)


def export_csv_portable(client: Any) -> None:
    """The portable path (keyset chunks of 2,000 formatted in Python), for comparison."""
    from panel.audit import export

    export.COPY_CSV = False
    rss_before_portable, portable_rows, started = rss_mb(), 0, time.perf_counter()
    rss_peak_portable = rss_before_portable
    for n, chunk in enumerate(client.get("/audit/export.csv").streaming_content):
        portable_rows += chunk.count(b"\n")
        if n % 25 == 0:
            rss_peak_portable = max(rss_peak_portable, rss_mb())
    portable_s = time.perf_counter() - started
    export.COPY_CSV = True
    portable_rows -= 1  # the header
    print(
        f"CSV export, portable path (keyset chunks in Python): {portable_rows:,} rows in "
        f"{portable_s:.1f}s = {portable_rows / portable_s:,.0f} rows/s; "
        f"RSS +{rss_peak_portable - rss_before_portable:.1f} MiB"
    )


def verify_chain() -> bool:
    """`audit verify` over the whole chain, timed; whether it holds."""
    from panel.audit.verify import verify

    started = time.perf_counter()
    checked = verify()
    verify_s = time.perf_counter() - started
    print(
        f"audit verify: {'ok' if checked.ok else 'BROKEN: ' + '; '.join(checked.problems())}, "
        f"{checked.checked:,} events in {verify_s:.1f}s = {checked.checked / verify_s:,.0f} rows/s"
    )
    return checked.ok
