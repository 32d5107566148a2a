"""The review page's filters and its keyset pagination, shared by the page, the exports and the CLI.

Keyset, not OFFSET: a page is "the next N events older than (time, id) of the last one shown",
one index range whatever the depth, where OFFSET reads and throws away every row before the page
and a page count needs COUNT(*) over a million rows. (time, id) rather than time alone, because
many events share a timestamp (a bulk change, the bench's seeded rows) and a page boundary must
neither skip nor repeat them.
"""

import datetime
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

PAGE_SIZE = 50
FIELDS = ("actor", "action", "site", "cluster", "since", "until", "q")
_CURSOR = re.compile(r"^(-?\d{1,19})\.(\d{1,19})$")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _when(value: str, *, end: bool) -> datetime.datetime:
    """A date or date-time typed by a person (or a datetime-local input); a date alone means the
    whole day, so "until 2026-05-01" includes that day. Naive times are in the panel's time zone."""
    day = parse_date(value) if len(value) == 10 else None
    parsed = (
        datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(days=1 if end else 0)
        if day is not None
        else parse_datetime(value.replace(" ", "T"))
    )
    if parsed is None:
        raise ValueError(value)
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@dataclass
class Filters:
    actor: str = ""
    action: str = ""
    site: str = ""
    cluster: str = ""
    q: str = ""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    raw: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, query: Any) -> "Filters":
        raw = {name: (query.get(name) or "").strip()[:150] for name in FIELDS}
        found = cls(
            actor=raw["actor"],
            action=raw["action"],
            site=raw["site"],
            cluster=raw["cluster"],
            q=raw["q"][:100],
            raw={k: v for k, v in raw.items() if v},
        )
        for name in ("since", "until"):
            if raw[name]:
                try:
                    setattr(found, name, _when(raw[name], end=name == "until"))
                except ValueError:
                    found.errors.append(
                        f"{name}: {raw[name]!r} is not a date (use 2026-05-01 or 2026-05-01 14:30)"
                    )
        return found

    def apply(self, events: QuerySet) -> QuerySet:
        if self.actor:
            events = events.filter(actor_username=self.actor)
        if self.action:
            # "site.deploy" is one action (an index range); "site", "site." or "site.*" is the group.
            # Never both in one OR: that turns the ordered index scan into a sort of every match.
            name = self.action.rstrip("*")
            if "." in name and not name.endswith("."):
                events = events.filter(action=name)
            else:
                events = events.filter(action__startswith=name.rstrip(".") + ".")
        if self.site:
            events = events.filter(site_slug=self.site)
        if self.cluster:
            events = events.filter(cluster_name=self.cluster)
        if self.since:
            events = events.filter(time__gte=self.since)
        if self.until:
            events = events.filter(time__lt=self.until)
        for term in self.q.split()[:5]:
            events = events.filter(
                Q(target_name__icontains=term) | Q(detail__icontains=term) | Q(request_id=term)
            )
        return events

    def querystring(self, **extra: str) -> str:
        """The filters as a query string (for links that keep them), plus e.g. a cursor."""
        return urlencode({**self.raw, **{k: v for k, v in extra.items() if v}})

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.raw.items()) or "everything"


def encode(time: datetime.datetime, pk: int) -> str:
    return f"{(time - _EPOCH) // datetime.timedelta(microseconds=1)}.{pk}"


def decode(cursor: str | None) -> tuple[datetime.datetime, int] | None:
    match = _CURSOR.match(cursor or "")
    if not match:
        return None
    try:
        return _EPOCH + datetime.timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


def older_than(time: datetime.datetime, pk: int) -> Q:
    # `time <= t` is the index bound; the OR only sorts out the rows that share t.
    return Q(time__lte=time) & (Q(time__lt=time) | Q(id__lt=pk))


def newer_than(time: datetime.datetime, pk: int) -> Q:
    return Q(time__gte=time) & (Q(time__gt=time) | Q(id__gt=pk))


@dataclass
class Page:
    events: list[Any]
    older: str | None  # cursor for the next page (older events), if there is one
    newer: str | None  # cursor for the previous page (newer events), if there is one


def page(
    events: QuerySet, *, before: str | None = None, after: str | None = None, size: int = PAGE_SIZE
) -> Page:
    """Newest first. `before`: the events older than this cursor; `after`: the page just newer."""
    newer_cursor = decode(after)
    if newer_cursor:
        rows = list(events.filter(newer_than(*newer_cursor)).order_by("time", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = bool(rows)
    else:
        older_cursor = decode(before)
        if older_cursor:
            events = events.filter(older_than(*older_cursor))
        rows = list(events.order_by("-time", "-id")[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = older_cursor is not None and bool(rows)
    return Page(
        events=rows,
        older=encode(rows[-1].time, rows[-1].pk) if more_older else None,
        newer=encode(rows[0].time, rows[0].pk) if more_newer else None,
    )
