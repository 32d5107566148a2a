"""The chain's head, kept outside the database on a schedule: a history rewritten by someone who holds
the key recomputes every hash, and then no longer matches the hashes anchored before.

Beat appends one JSON line per anchor ({"id", "hash", "time", "at"}) to AUDIT_ANCHOR_FILE, created
0600 and only ever appended to, on the panel's host where the database's roles cannot write, and logs
the same line at INFO so that a log shipper keeps a second copy. `audit verify` reads the file back:
every anchored id must still be in the chain with its anchored hash.
"""

import datetime
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from panel.audit.chain import timestamp

log = logging.getLogger("panel.audit")


def default_path() -> Path:
    return Path(settings.AUDIT_ANCHOR_FILE)


def head() -> dict[str, Any] | None:
    from panel.models import AuditEvent

    row = AuditEvent.objects.order_by("-id").values("id", "hash", "time").first()
    return dict(row) if row else None


def write(path: Path | None = None) -> dict[str, Any] | None:
    """Append the current head and log it; None (nothing written) while the log is empty."""
    path = path or default_path()
    point = head()
    if point is None:
        log.info("audit anchor: the log is empty, nothing to anchor")
        return None
    line = {
        "id": point["id"],
        "hash": point["hash"],
        "time": timestamp(point["time"]),
        "at": timestamp(datetime.datetime.now(datetime.UTC)),
    }
    text = json.dumps(line, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (text + "\n").encode())
    finally:
        os.close(descriptor)
    log.info("audit anchor %s written to %s", text, path)
    return line


@dataclass
class Anchors:
    path: Path
    points: dict[int, tuple[str, int]] = field(default_factory=dict)  # event id -> (hash, line number)
    problems: list[str] = field(default_factory=list)

    def where(self, event_id: int) -> str:
        return f"{self.path} line {self.points[event_id][1]}"


def read(path: Path | None = None) -> Anchors:
    """The anchors in the file; none when it does not exist yet. A line that is not an anchor, or
    that anchors an id with another hash than an earlier line, is a problem: the file was touched."""
    anchors = Anchors(path or default_path())
    try:
        with open(anchors.path, encoding="utf-8") as lines:
            for number, text in enumerate(lines, 1):
                _add(anchors, number, text)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        anchors.problems.append(f"the anchors in {anchors.path} cannot be read: {exc}")
    return anchors


def _add(anchors: Anchors, number: int, text: str) -> None:
    if not text.strip():
        return
    try:
        item = json.loads(text)
        event_id, event_hash = int(item["id"]), str(item["hash"])
    except (ValueError, KeyError, TypeError):
        anchors.problems.append(f"{anchors.path} line {number} is not an anchor")
        return
    known = anchors.points.setdefault(event_id, (event_hash, number))
    if known[0] != event_hash:
        anchors.problems.append(
            f"{anchors.path} line {number} anchors event #{event_id} with another hash than line {known[1]}"
        )
