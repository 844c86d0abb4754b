"""Runbook utility: matched, linked, cited, accepted, stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb_coverage.assessment import CaseCoverage
from kb_coverage.matching import RunbookMatch
from kb_coverage.utility import RunbookUsageEvent, runbook_utility

T = datetime(2026, 11, 1, tzinfo=UTC)


def _row(
    cid: str, rid: str | None, covered: bool, days: int = 0, links: tuple[str, ...] = ()
) -> CaseCoverage:
    match = (
        RunbookMatch(runbook_id=rid, score=0.7, dense_score=0.7, term_coverage=0.7) if rid else None
    )
    return CaseCoverage(
        case_id=cid, created_at=T + timedelta(days=days), best_match=match,
        match_covered=covered, covered=covered, basis="runbook_match",
        linked_runbooks=list(links),
    )  # fmt: skip


def test_counts_per_runbook_and_stale_candidates() -> None:
    runbooks = {"rb/a": "A", "rb/b": "B", "rb/stale": "Never used"}
    rows = [
        _row("1", "rb/a", True, 0),
        _row("2", "rb/a", True, 3),
        _row("3", "rb/b", False, 1),  # best match but below threshold: not "matched"
        _row("4", None, False, 2, links=("rb/b",)),
    ]
    events = [
        RunbookUsageEvent(runbook_id="rb/a", kind="cited", at=T + timedelta(days=5)),
        RunbookUsageEvent(runbook_id="rb/a", kind="cited", at=T + timedelta(days=6)),
        RunbookUsageEvent(runbook_id="rb/a", kind="accepted", at=T + timedelta(days=6)),
        RunbookUsageEvent(runbook_id="rb/b", kind="matched", at=T + timedelta(days=7)),
        # Outside the window: ignored.
        RunbookUsageEvent(runbook_id="rb/stale", kind="cited", at=T - timedelta(days=30)),
        # A runbook no longer indexed still shows up.
        RunbookUsageEvent(runbook_id="rb/gone", kind="cited", at=T + timedelta(days=1)),
    ]
    rows_out = runbook_utility(runbooks, rows, events, since=T, until=T + timedelta(days=10))
    by_id = {r.runbook_id: r for r in rows_out}
    a, b = by_id["rb/a"], by_id["rb/b"]
    assert (a.matched, a.linked, a.cited, a.accepted) == (2, 0, 2, 1)
    assert a.acceptance_rate == 0.5 and a.last_used == T + timedelta(days=6)
    assert (b.matched, b.linked, b.cited) == (1, 1, 0) and b.acceptance_rate is None
    assert by_id["rb/stale"].stale and not a.stale and not b.stale
    assert by_id["rb/gone"].cited == 1 and by_id["rb/gone"].title == ""
    assert rows_out[-1].runbook_id == "rb/stale"  # stale last
    assert rows_out[0].runbook_id == "rb/a"  # most used first
