"""Runbook utility: which runbooks match cases, get cited in drafts and accepted in reviews.

Drafts and reviews live in the service database; they arrive here as an iterable of
RunbookUsageEvent, so this package needs no storage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kb_coverage.assessment import CaseCoverage

UsageKind = Literal["matched", "cited", "accepted"]


class RunbookUsageEvent(BaseModel):
    """A runbook was matched to a case, cited in a draft, or accepted in a review."""

    runbook_id: str
    kind: UsageKind
    at: datetime
    case_id: str | None = None


class RunbookUtility(BaseModel):
    """How much one runbook was used in the window."""

    runbook_id: str
    title: str = ""
    matched: int = Field(default=0, description="cases whose best match it was, above threshold")
    linked: int = Field(default=0, description="cases whose agents linked it")
    cited: int = Field(default=0, description="drafts citing it")
    accepted: int = Field(default=0, description="reviews accepting a draft citing it")
    acceptance_rate: float | None = Field(default=None, description="accepted / cited")
    last_used: datetime | None = None
    stale: bool = Field(default=False, description="never matched, linked or cited")


def runbook_utility(
    runbooks: Mapping[str, str],
    cases: Sequence[CaseCoverage],
    events: Iterable[RunbookUsageEvent] = (),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RunbookUtility]:
    """Usage of every runbook (id -> title) in the window, most used first, stale last."""
    rows = {rid: RunbookUtility(runbook_id=rid, title=title) for rid, title in runbooks.items()}
    last: dict[str, datetime] = {}
    counts: dict[tuple[str, str], int] = defaultdict(int)

    def seen(rid: str, kind: str, at: datetime) -> None:
        if rid not in rows:  # an event about a runbook no longer indexed
            rows[rid] = RunbookUtility(runbook_id=rid)
        counts[(rid, kind)] += 1
        if rid not in last or at > last[rid]:
            last[rid] = at

    for case in cases:
        if case.best_match is not None and case.match_covered:
            seen(case.best_match.runbook_id, "matched", case.created_at)
        for rid in case.linked_runbooks:
            seen(rid, "linked", case.created_at)
    for event in events:
        if (since and event.at < since) or (until and event.at > until):
            continue
        seen(event.runbook_id, event.kind, event.at)
    for rid, row in rows.items():
        row.matched = counts[(rid, "matched")]
        row.linked = counts[(rid, "linked")]
        row.cited = counts[(rid, "cited")]
        row.accepted = counts[(rid, "accepted")]
        row.acceptance_rate = row.accepted / row.cited if row.cited else None
        row.last_used = last.get(rid)
        row.stale = not (row.matched or row.linked or row.cited or row.accepted)
    return sorted(
        rows.values(),
        key=lambda r: (r.stale, -(r.matched + r.linked + r.cited), -r.accepted, r.runbook_id),
    )
