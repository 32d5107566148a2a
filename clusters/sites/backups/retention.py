"""Which backups a site keeps: grandfather-father-son, as a pure function over dates (no database,
no engine), so that its choice can be tested over months in a millisecond.

Over the good scheduled and manual backups, newest first, each rule keeps the newest backup of each
of its last N periods that hold one (restic's `--keep-daily/weekly/monthly`): a day, an ISO week, a
calendar month, in the panel's time zone. A backup kept by one rule also counts for the others.
Whatever the rules say, the newest good backup is kept, and so is a pre-update backup younger than
PRE_UPDATE_DAYS (the way back from an update), and a failed one newer than the newest good one (so
the page shows that the last attempt failed). Everything else is outside the kept set.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PRE_UPDATE_DAYS = 30
PRE_UPDATE = "pre-update"


@dataclass(frozen=True)
class Taken:
    """What retention needs to know of one backup."""

    id: int
    at: datetime.datetime
    ok: bool = True
    kind: str = "scheduled"


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 3


def _day(at: datetime.datetime) -> object:
    return at.date()


def _week(at: datetime.datetime) -> object:
    return at.isocalendar()[:2]


def _month(at: datetime.datetime) -> object:
    return (at.year, at.month)


def _newest_per_period(
    backups: list[Taken], count: int, period: Callable[[datetime.datetime], object]
) -> set[int]:
    """The newest backup of each of the last `count` periods that hold one (`backups`: newest first)."""
    kept: set[int] = set()
    seen: set[object] = set()
    for backup in backups:
        if len(seen) >= count:
            break
        bucket = period(backup.at)
        if bucket not in seen:
            seen.add(bucket)
            kept.add(backup.id)
    return kept


def backups_to_keep(
    backups: Iterable[Taken],
    policy: Policy,
    now: datetime.datetime,
    local: Callable[[datetime.datetime], datetime.datetime] = lambda at: at,
) -> set[int]:
    """The ids of the backups to keep; `local` turns a time into the zone whose days count."""
    every = sorted(backups, key=lambda b: (b.at, b.id), reverse=True)
    good = [b for b in every if b.ok]
    rotated = [Taken(b.id, local(b.at), b.ok, b.kind) for b in good if b.kind != PRE_UPDATE]
    kept = (
        _newest_per_period(rotated, policy.daily, _day)
        | _newest_per_period(rotated, policy.weekly, _week)
        | _newest_per_period(rotated, policy.monthly, _month)
    )
    if good:
        kept.add(good[0].id)
    young = now - datetime.timedelta(days=PRE_UPDATE_DAYS)
    kept |= {b.id for b in good if b.kind == PRE_UPDATE and b.at > young}
    newest_good_at = good[0].at if good else None
    kept |= {b.id for b in every if not b.ok and (newest_good_at is None or b.at > newest_good_at)}
    return kept
