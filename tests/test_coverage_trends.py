"""Coverage rate by ISO week, queue and product."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kb_coverage.assessment import CaseCoverage
from kb_coverage.trends import rates_by, weekly_rates
from kb_coverage.weeks import week_label, week_start, week_starts, weekly_counts


def _row(cid: str, when: datetime, covered: bool, **kw: object) -> CaseCoverage:
    return CaseCoverage(
        case_id=cid, created_at=when, match_covered=covered, covered=covered,
        basis="runbook_match", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_iso_weeks_across_a_year_end() -> None:
    # 2026 starts on a Thursday, so it has 53 ISO weeks; 2027-01-03 is still in W53.
    assert week_label(week_start(datetime(2026, 12, 31, tzinfo=UTC))) == "2026-W53"
    assert week_label(week_start(date(2027, 1, 3))) == "2026-W53"
    assert week_label(week_start(date(2027, 1, 4))) == "2027-W01"
    starts = week_starts(datetime(2026, 12, 24, tzinfo=UTC), datetime(2027, 1, 5, tzinfo=UTC))
    assert [week_label(s) for s in starts] == ["2026-W52", "2026-W53", "2027-W01"]


def test_week_start_uses_utc() -> None:
    from datetime import timedelta, timezone

    # Monday 00:30 in UTC+2 is still Sunday in UTC.
    moment = datetime(2026, 11, 23, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert week_start(moment) == date(2026, 11, 16)


def test_weekly_rates_include_empty_weeks() -> None:
    rows = [
        _row("a", datetime(2026, 11, 2, tzinfo=UTC), True),
        _row("b", datetime(2026, 11, 3, tzinfo=UTC), False),
        _row("c", datetime(2026, 11, 4, tzinfo=UTC), True),
        _row("d", datetime(2026, 11, 18, tzinfo=UTC), False),
    ]
    starts = week_starts(rows[0].created_at, rows[-1].created_at)
    points = weekly_rates(rows, starts)
    assert [(p.key, p.total, p.covered) for p in points] == [
        ("2026-W45", 3, 2), ("2026-W46", 0, 0), ("2026-W47", 1, 0),
    ]  # fmt: skip
    assert points[0].rate == 2 / 3 and points[1].rate is None and points[2].rate == 0.0
    assert weekly_counts([r.created_at for r in rows], starts) == [3, 0, 1]


def test_rates_by_queue_and_product() -> None:
    when = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        _row("a", when, True, queue="billing", product="Invoices"),
        _row("b", when, False, queue="billing", product="Invoices"),
        _row("c", when, True, queue="billing"),
        _row("d", when, False),
    ]
    by_queue = rates_by(rows, "queue")
    assert [(r.key, r.total, r.covered) for r in by_queue] == [("billing", 3, 2), ("(none)", 1, 0)]
    by_product = {r.key: r.rate for r in rates_by(rows, "product")}
    assert by_product == {"(none)": 0.5, "Invoices": 0.5}
