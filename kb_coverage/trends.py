"""Coverage rate over time (ISO weeks), by queue and by product."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel

from kb_coverage.assessment import CaseCoverage
from kb_coverage.weeks import week_label, week_start

NO_VALUE = "(none)"


class CoverageRate(BaseModel):
    """Cases in one bucket and the share of them covered."""

    key: str
    total: int
    covered: int
    rate: float | None


class WeeklyRate(CoverageRate):
    """Coverage of the cases created in one ISO week."""

    start: date


def _rate(covered: int, total: int) -> float | None:
    return covered / total if total else None


def weekly_rates(cases: Sequence[CaseCoverage], starts: Sequence[date]) -> list[WeeklyRate]:
    """One point per week of `starts`, empty weeks included (rate None)."""
    total: dict[date, int] = defaultdict(int)
    covered: dict[date, int] = defaultdict(int)
    for case in cases:
        monday = week_start(case.created_at)
        total[monday] += 1
        covered[monday] += case.covered
    return [
        WeeklyRate(
            key=week_label(s),
            start=s,
            total=total[s],
            covered=covered[s],
            rate=_rate(covered[s], total[s]),
        )
        for s in starts
    ]


def rates_by(
    cases: Sequence[CaseCoverage], field: Literal["queue", "product"]
) -> list[CoverageRate]:
    """Coverage per queue or product, largest first; cases without one go under (none)."""
    total: dict[str, int] = defaultdict(int)
    covered: dict[str, int] = defaultdict(int)
    for case in cases:
        key = getattr(case, field) or NO_VALUE
        total[key] += 1
        covered[key] += case.covered
    keys = sorted(total, key=lambda k: (-total[k], k))
    return [
        CoverageRate(key=k, total=total[k], covered=covered[k], rate=_rate(covered[k], total[k]))
        for k in keys
    ]
