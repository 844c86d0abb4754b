"""ISO weeks: the time buckets of coverage trends and spike detection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel


class WeekCount(BaseModel):
    """How many items fell in one ISO week."""

    week: str
    start: date
    count: int


def week_start(moment: datetime | date) -> date:
    """The Monday of the ISO week a moment falls in (UTC)."""
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def week_label(start: date) -> str:
    """ISO week label, e.g. 2026-W47."""
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def week_starts(first: datetime | date, last: datetime | date) -> list[date]:
    """Mondays of every ISO week from the one holding `first` to the one holding `last`."""
    start, end = week_start(first), week_start(last)
    out: list[date] = []
    while start <= end:
        out.append(start)
        start += timedelta(days=7)
    return out


def weekly_counts(moments: Iterable[datetime], starts: Sequence[date]) -> list[int]:
    """Counts per week of `starts` (moments outside them are ignored)."""
    position = {s: i for i, s in enumerate(starts)}
    counts = [0] * len(starts)
    for moment in moments:
        i = position.get(week_start(moment))
        if i is not None:
            counts[i] += 1
    return counts


def week_series(counts: Sequence[int], starts: Sequence[date]) -> list[WeekCount]:
    """Counts as labelled weeks, for charts."""
    return [
        WeekCount(week=week_label(s), start=s, count=n) for s, n in zip(starts, counts, strict=True)
    ]
