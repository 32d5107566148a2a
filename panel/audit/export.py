"""The filtered events as CSV or JSON, streamed so memory stays flat at any size.

Portable path (JSON, and CSV off PostgreSQL): keyset chunks, each one indexed query for the next
CHUNK events older than the last one sent (the page's own (time, id) order). before/after travel
as the database's JSON text, never parsed and re-encoded in Python.

CSV on PostgreSQL: one `COPY (SELECT ...) TO STDOUT (FORMAT csv)` of the same filtered, ordered
query, relayed in blocks. The server writes the CSV (quoting, time format, formula guard), so
Python only moves bytes: several times the rows per second of formatting each row here, which is
what keeps a million-row export within seconds. Same columns, same order, same cells.

Either way an export is a consistent cut: the log is append-only, so events recorded while it
runs are newer than its start and never appear half-way.
"""

import csv
import datetime
import io
import json
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.db.models import CharField, F, Func, QuerySet, TextField
from django.db.models.functions import Cast

from panel.audit.chain import HASHED_FIELDS, SEAL_FIELDS, timestamp
from panel.audit.query import Filters, older_than

CHUNK = 2000
BLOCK = 256 * 1024
COPY_CSV = True  # tests turn it off to compare the two CSV paths
# The chain's own order, then how the hash was made: a row reads as it was hashed, and verifies.
COLUMNS = ("id", *HASHED_FIELDS, "hash", *SEAL_FIELDS)
# Text someone may have typed (a failed login's name, a detail): a spreadsheet runs a cell that
# starts with one of _FORMULA as a formula, so such cells get a leading quote (OWASP "CSV injection").
_FORMULA = frozenset("=+-@\t\r")
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_UTC_TEXT = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_QUOTED = (
    "CASE WHEN left(%(expressions)s, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
    "THEN chr(39) || %(expressions)s ELSE %(expressions)s END"
)


@cache
def _text_columns() -> tuple[str, ...]:
    """The columns of free text (the hashes and how they were made are what the panel wrote)."""
    from panel.models import AuditEvent

    text_fields = {f.name for f in AuditEvent._meta.concrete_fields if isinstance(f, (CharField, TextField))}
    return tuple(name for name in COLUMNS if name in text_fields - {"prev_hash", "hash", *SEAL_FIELDS})


def _selected(quote_formulas: bool) -> list[Any]:
    """COLUMNS as expressions. On PostgreSQL the time comes as text in the chain's own format and
    the JSON as the database's text: nothing is parsed into Python objects only to be printed."""
    fields: list[Any] = list(COLUMNS)
    fields[COLUMNS.index("before")] = Cast("before", TextField())
    fields[COLUMNS.index("after")] = Cast("after", TextField())
    if connection.vendor == "postgresql":
        fields[COLUMNS.index("time")] = Func(F("time"), template=_UTC_TEXT, output_field=CharField())
    if quote_formulas:
        for name in _text_columns():
            fields[COLUMNS.index(name)] = Func(F(name), template=_QUOTED, output_field=CharField())
    return fields


def rows(filters: Filters, *, quote_formulas: bool = False) -> QuerySet:
    """The filtered events as value lists in COLUMNS order, newest first."""
    from panel.models import AuditEvent

    expressions = _selected(quote_formulas)
    annotations = {f"c{i}": e for i, e in enumerate(expressions) if not isinstance(e, str)}
    names = [e if isinstance(e, str) else f"c{i}" for i, e in enumerate(expressions)]
    return (
        filters.apply(AuditEvent.objects.all())
        .annotate(**annotations)
        .values_list(*names)
        .order_by("-time", "-id")
    )


def chunks(filters: Filters, size: int | None = None) -> Iterator[list[list[Any]]]:
    """Rows as lists in COLUMNS order, time as text, newest first, `size` per query."""
    size = size or CHUNK
    query = rows(filters)
    time_at, cursor = COLUMNS.index("time"), None
    while True:
        batch = [list(row) for row in (query.filter(older_than(*cursor)) if cursor else query)[:size]]
        if not batch:
            return
        if not isinstance(batch[0][time_at], str):  # not PostgreSQL: format here
            for row in batch:
                row[time_at] = timestamp(row[time_at])
        yield batch
        if len(batch) < size:
            return
        last = batch[-1]
        when = datetime.datetime.strptime(last[time_at], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
        cursor = (when, last[0])


def _csv(filters: Filters) -> Iterator[bytes]:
    yield (",".join(COLUMNS) + "\n").encode()
    if connection.vendor == "postgresql" and COPY_CSV:
        yield from _csv_copy(filters)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for batch in chunks(filters):
        writer.writerows(
            [("'" + v if v.__class__ is str and v and v[0] in _FORMULA else v) for v in row] for row in batch
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _csv_copy(filters: Filters) -> Iterator[bytes]:
    sql, params = rows(filters, quote_formulas=True).query.sql_with_params()
    connection.ensure_connection()
    # A client-side binding cursor whatever the connection's setting: COPY takes no server parameters.
    # A reader who goes away mid-COPY makes psycopg cancel it; if the server was still sending, the
    # cancel is an error that would abort the caller's transaction: the savepoint contains it.
    with (
        transaction.atomic(),
        psycopg.ClientCursor(connection.connection) as cursor,
        cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
    ):
        block = bytearray()
        for data in copy:  # about one row per message: gathered into blocks for the response
            block += data
            if len(block) >= BLOCK:
                yield bytes(block)
                block.clear()
        if block:
            yield bytes(block)


def _json(filters: Filters) -> Iterator[bytes]:
    plain = [(i, name) for i, name in enumerate(COLUMNS) if name not in ("before", "after")]
    before_at, after_at = COLUMNS.index("before"), COLUMNS.index("after")
    first = True
    yield b"["
    for batch in chunks(filters):
        lines = []
        for row in batch:
            head = json.dumps({name: row[i] for i, name in plain}, ensure_ascii=False)
            lines.append(
                f'{head[:-1]}, "before": {row[before_at] or "null"}, "after": {row[after_at] or "null"}}}'
            )
        yield (("\n" if first else ",\n") + ",\n".join(lines)).encode()
        first = False
    yield b"\n]\n"


def stream(filters: Filters, fmt: str) -> Iterator[bytes]:
    return _csv(filters) if fmt == "csv" else _json(filters)


async def astream(filters: Filters, fmt: str) -> AsyncIterator[bytes]:
    """The same chunks for an ASGI server: given a plain iterator, Django's ASGI handler would read
    the whole export into a list first (memory grows with the log). One thread hop per chunk."""
    iterator = stream(filters, fmt)
    pull = sync_to_async(_next_or_none, thread_sensitive=True)
    while (chunk := await pull(iterator)) is not None:
        yield chunk


def _next_or_none(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)
