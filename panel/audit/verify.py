"""Recompute the chain and name the first row that does not fit.

Walks the table by id (the order record() chained it in) in keyset chunks, so memory stays flat
on millions of rows. What it catches: a changed row (its hash no longer matches its content), a
removed or inserted row (the next row's prev_hash no longer matches), rows removed from the start
(the first row does not start the chain). Rows removed from the END leave a shorter, valid chain;
keep the head hash that verify prints somewhere else and pass it back with --head to catch that.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from panel.audit import chain, triggers

CHUNK = 5000


@dataclass
class Result:
    checked: int = 0
    head: str = ""
    broken_id: int | None = None
    problem: str = ""
    missing_triggers: list[str] = field(default_factory=list)
    head_lost: bool = False

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.missing_triggers and not self.head_lost

    def problems(self) -> list[str]:
        found = [self.problem] if self.problem else []
        if self.missing_triggers:
            found.append(
                f"the append-only triggers are missing or disabled: {', '.join(self.missing_triggers)}"
            )
        return found


def rows(chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    from panel.models import AuditEvent

    fields = ("id", *chain.HASHED_FIELDS, "hash")
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last).order_by("id").values(*fields)[:chunk])
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def verify(expect_head: str = "") -> Result:
    result = Result(missing_triggers=triggers.missing(connection))
    wanted = expect_head.strip().lower()
    previous_hash, previous_id, head_seen = "", None, False
    for row in rows():
        result.checked += 1
        head_seen = head_seen or row["hash"] == wanted
        where = f"event #{row['id']} ({chain.timestamp(row['time'])} {row['action']})"
        if row["prev_hash"] != previous_hash:
            after = f"event #{previous_id}" if previous_id else "the start of the log"
            result.problem = f"{where} does not follow {after}: rows were removed or inserted in between"
        elif chain.event_hash(row) != row["hash"]:
            result.problem = f"{where} was altered: its content no longer matches its hash"
        if result.problem:
            result.broken_id = row["id"]
            return result
        previous_hash, previous_id = row["hash"], row["id"]
    result.head = previous_hash
    if wanted and not head_seen:
        result.head_lost = True
        result.problem = f"the head {wanted[:16]}… is no longer in the log: events were removed from the end"
    return result
