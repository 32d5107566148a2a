"""Recompute the chain and name the first row that does not fit.

Walks the table by id (the order record() chained it in) in keyset chunks, so memory stays flat
on millions of rows. What it catches: a changed row (its hash no longer matches its content: without
the key no new hash can be made), a removed or inserted row (the next row's prev_hash no longer
matches), rows removed from the start (the first row does not start the chain), an unkeyed row after
the first keyed one (a downgrade), and any row that no longer has the hash anchored for it outside
the database (history rewritten with the key; rows removed from the end). Without anchors, keep the
head hash that verify prints somewhere else and pass it back with --head.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from panel.audit import anchor, chain, keys, triggers

CHUNK = 5000


@dataclass
class Result:
    checked: int = 0
    head: str = ""
    head_id: int | None = None
    broken_id: int | None = None
    problem: str = ""
    missing_triggers: list[str] = field(default_factory=list)
    head_lost: bool = False
    anchored: int = 0  # anchors found in the chain with their hash
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.broken_id is None
            and not self.missing_triggers
            and not self.head_lost
            and not self.anchor_problems
        )

    def problems(self) -> list[str]:
        found = [self.problem] if self.problem else []
        if self.missing_triggers:
            found.append(
                f"the append-only triggers are missing or disabled: {', '.join(self.missing_triggers)}"
            )
        return found + self.anchor_problems


def rows(chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    from panel.models import AuditEvent

    fields = ("id", *chain.HASHED_FIELDS, "hash", *chain.SEAL_FIELDS)
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last).order_by("id").values(*fields)[:chunk])
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


class Walk:
    """The checks of one row against the rows before it and the anchors."""

    def __init__(self, anchors: anchor.Anchors) -> None:
        self.anchors = anchors
        self.previous_hash, self.previous_id = "", None
        self.keyed_since: int | None = None
        self.keys: dict[str, keys.Key | None] = {}

    def problem(self, row: dict[str, Any]) -> str:
        where = f"event #{row['id']} ({chain.timestamp(row['time'])} {row['action']})"
        if row["prev_hash"] != self.previous_hash:
            after = f"event #{self.previous_id}" if self.previous_id else "the start of the log"
            return f"{where} does not follow {after}: rows were removed or inserted in between"
        found = self._hash_problem(row, where)
        if found:
            return found
        anchored = self.anchors.points.get(row["id"])
        if anchored and anchored[0] != row["hash"]:
            return (
                f"{where} no longer has the hash anchored in {self.anchors.where(row['id'])}: "
                "the history up to it was rewritten"
            )
        self.previous_hash, self.previous_id = row["hash"], row["id"]
        return ""

    def _hash_problem(self, row: dict[str, Any], where: str) -> str:
        alg = row["hash_alg"]
        if alg == chain.LEGACY:
            if self.keyed_since is not None:
                return f"{where} has an unkeyed hash after the keyed chain began at event #{self.keyed_since}"
            expected = chain.plain_hash(row)
        elif alg == chain.SEALED:
            key = self._key(row["key_id"])
            if key is None:
                return (
                    f"{where} was sealed with key id {row['key_id']!r}, which is neither PANEL_AUDIT_KEY "
                    "nor one in PANEL_AUDIT_KEY_OLD (nor derived from the encryption keys)"
                )
            self.keyed_since = self.keyed_since or row["id"]
            expected = chain.keyed_hash(row, key)
        else:
            return f"{where} names an unknown hash algorithm {alg!r}"
        if expected != row["hash"]:
            return f"{where} was altered: its content no longer matches its hash"
        return ""

    def _key(self, key_id: str) -> keys.Key | None:
        if key_id not in self.keys:
            self.keys[key_id] = keys.find(key_id)
        return self.keys[key_id]


def verify(expect_head: str = "", anchor_file: Path | None = None) -> Result:
    result = Result(missing_triggers=triggers.missing(connection))
    anchors = anchor.read(anchor_file)
    walk = Walk(anchors)
    wanted = expect_head.strip().lower()
    head_seen, met = False, set()
    for row in rows():
        result.checked += 1
        head_seen = head_seen or row["hash"] == wanted
        result.problem = walk.problem(row)
        if result.problem:
            result.broken_id = row["id"]
            return result
        if row["id"] in anchors.points:
            met.add(row["id"])
    result.head, result.head_id, result.anchored = walk.previous_hash, walk.previous_id, len(met)
    result.anchor_problems = anchors.problems + _lost_anchors(anchors, met)
    if wanted and not head_seen:
        result.head_lost = True
        result.problem = f"the head {wanted[:16]}… is no longer in the log: events were removed from the end"
    return result


def _lost_anchors(anchors: anchor.Anchors, met: set[int]) -> list[str]:
    """Anchored events the walk did not meet: removed from the end, or the log replaced."""
    lost = sorted(set(anchors.points) - met)
    if not lost:
        return []
    return [
        f"anchored event #{lost[0]} ({anchors.where(lost[0])}) is no longer in the log: "
        f"{len(lost)} anchored event(s) are gone"
    ]
