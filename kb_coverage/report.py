"""The coverage report: every analysis over one time window, as one dashboard-ready model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field

from core.domain import Case, utcnow
from kb_coverage.assessment import CaseCoverage, assess_cases
from kb_coverage.clustering import GapCluster, build_gap_clusters
from kb_coverage.config import CoverageConfig
from kb_coverage.matching import RunbookMatcher, RunbookVocabulary
from kb_coverage.spikes import Spike, find_spikes
from kb_coverage.trends import CoverageRate, WeeklyRate, rates_by, weekly_rates
from kb_coverage.utility import RunbookUsageEvent, RunbookUtility, runbook_utility
from kb_coverage.weeks import week_starts, weekly_counts
from retrieval.index import KnowledgeIndex
from retrieval.search import FusionWeights


class CoverageSummary(BaseModel):
    """Headline numbers of a window."""

    cases: int
    covered: int
    not_covered: int
    rate: float | None
    match_rate: float | None = Field(description="share covered by the match score alone")
    by_basis: dict[str, int] = Field(description="decisions by what decided them")
    gap_clusters: int
    unclustered_gaps: int = Field(description="uncovered cases in no cluster big enough")
    spikes: int
    stale_runbooks: int


class CoverageReport(BaseModel):
    """KB coverage over a window: rate, trends, gap clusters, spikes and runbook utility."""

    generated_at: datetime
    since: datetime | None
    until: datetime | None
    config: CoverageConfig
    summary: CoverageSummary
    weekly: list[WeeklyRate]
    by_queue: list[CoverageRate]
    by_product: list[CoverageRate]
    gaps: list[GapCluster]
    spikes: list[Spike]
    runbooks: list[RunbookUtility]
    cases: list[CaseCoverage]


def window_cases(
    cases: Iterable[Case], since: datetime | None, until: datetime | None
) -> list[Case]:
    """Cases created in [since, until], oldest first."""
    picked = [
        c
        for c in cases
        if (since is None or c.created_at >= since) and (until is None or c.created_at <= until)
    ]
    return sorted(picked, key=lambda c: (c.created_at, c.id))


def signature_spikes(
    cases: Sequence[CaseCoverage], starts: Sequence[date], config: CoverageConfig
) -> list[Spike]:
    """Spikes of error signatures over every case in the window, covered or not."""
    moments: dict[str, list[datetime]] = {}
    for case in cases:
        for sig in set(case.signatures):
            moments.setdefault(sig, []).append(case.created_at)
    series = {
        sig: weekly_counts(times, starts)
        for sig, times in moments.items()
        if len(times) >= config.spike_min_count
    }
    return find_spikes("signature", series, {}, starts, config)


def build_report(
    index: KnowledgeIndex,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    config: CoverageConfig | None = None,
    weights: FusionWeights | None = None,
    events: Iterable[RunbookUsageEvent] = (),
    progress: Callable[[int], None] | None = None,
) -> CoverageReport:
    """Assess every case created in the window (default: all) and assemble the report.

    The window ends by default at the newest case, so "the last 30 days" of an imported
    history means its last 30 days.
    """
    config = config or CoverageConfig()
    cases = window_cases(index.iter_cases(), since, until)
    vocabulary = RunbookVocabulary.from_index(index)
    matcher = RunbookMatcher(index, weights=weights, vocabulary=vocabulary)
    assessment = assess_cases(index, cases, config, matcher=matcher, progress=progress)
    rows = assessment.cases
    end = until or (rows[-1].created_at if rows else utcnow())
    start = since or (rows[0].created_at if rows else end)
    starts = week_starts(start, end)

    gaps, unclustered = build_gap_clusters(
        rows, assessment.texts, assessment.vectors, until=end, starts=starts, config=config
    )
    cluster_spikes = find_spikes(
        "gap_cluster",
        {g.id: [w.count for w in g.weekly] for g in gaps},
        {g.id: g.label for g in gaps},
        starts,
        config,
    )
    spiking = {s.key for s in cluster_spikes}
    for gap in gaps:
        gap.spike = gap.id in spiking
    spikes = cluster_spikes + signature_spikes(rows, starts, config)
    utility = runbook_utility(vocabulary.titles, rows, events, since=since, until=until)

    covered = sum(c.covered for c in rows)
    summary = CoverageSummary(
        cases=len(rows),
        covered=covered,
        not_covered=len(rows) - covered,
        rate=covered / len(rows) if rows else None,
        match_rate=sum(c.match_covered for c in rows) / len(rows) if rows else None,
        by_basis=dict(Counter(f"{c.basis}:{'covered' if c.covered else 'gap'}" for c in rows)),
        gap_clusters=len(gaps),
        unclustered_gaps=unclustered,
        spikes=len(spikes),
        stale_runbooks=sum(r.stale for r in utility),
    )
    return CoverageReport(
        generated_at=utcnow(),
        since=since,
        until=until,
        config=config,
        summary=summary,
        weekly=weekly_rates(rows, starts),
        by_queue=rates_by(rows, "queue"),
        by_product=rates_by(rows, "product"),
        gaps=gaps,
        spikes=spikes,
        runbooks=utility,
        cases=rows,
    )
