"""Gap clusters: uncovered cases grouped by topic, labelled, ranked by volume and growth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from kb_coverage.assessment import CaseCoverage
from kb_coverage.config import CoverageConfig
from kb_coverage.labels import class_terms
from kb_coverage.weeks import WeekCount, week_series, weekly_counts

# A signature shared by more cases than this (share, or count for small windows) is too
# common to say two cases are about the same thing (a bare HTTP 500).
RARE_SIGNATURE_SHARE = 0.05
RARE_SIGNATURE_MIN = 20


class CaseRef(BaseModel):
    """A case shown as an example."""

    case_id: str
    title: str
    created_at: datetime
    queue: str | None = None


class GapCluster(BaseModel):
    """Uncovered cases about one topic."""

    id: str
    size: int
    recent: int = Field(description="cases in the last `recent_days` of the window")
    previous: int = Field(description="cases in the `recent_days` before those")
    growth: float | None = Field(description="recent / previous - 1; None when previous is 0")
    first_seen: datetime
    last_seen: datetime
    terms: list[str]
    label: str
    signatures: list[str] = Field(description="error signatures shared by several of its cases")
    representatives: list[CaseRef]
    case_ids: list[str]
    queues: dict[str, int]
    products: dict[str, int]
    nearest_runbook: str | None = Field(description="the runbook its cases match most often")
    nearest_runbook_score: float | None = Field(description="their mean match score with it")
    weekly: list[WeekCount]
    spike: bool = False
    summary: str


def similarity_matrix(
    vectors: np.ndarray,
    signatures: Sequence[Sequence[str]],
    rare: set[str],
    bonus: float,
) -> np.ndarray:
    """Cosine similarity, raised by `bonus` for pairs that share a rare error signature."""
    sim = np.asarray(vectors @ vectors.T, dtype=np.float64)
    if bonus > 0:
        owners: dict[str, list[int]] = {}
        for i, sigs in enumerate(signatures):
            for sig in set(sigs) & rare:
                owners.setdefault(sig, []).append(i)
        shared = np.zeros_like(sim, dtype=bool)
        for members in owners.values():
            shared[np.ix_(members, members)] = True
        sim = np.where(shared, sim + bonus, sim)
    np.fill_diagonal(sim, 1.0)
    return np.clip(sim, -1.0, 1.0)


def cluster_indices(sim: np.ndarray, distance: float) -> list[list[int]]:
    """Average-linkage agglomerative clusters cut at `distance` (1 - similarity)."""
    n = sim.shape[0]
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering  # heavy: only when clustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=distance
    )
    labels = model.fit_predict(1.0 - sim)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def rare_signatures(signatures: Sequence[Sequence[str]]) -> set[str]:
    """Signatures carried by few enough cases to tell topics apart."""
    df = Counter(s for sigs in signatures for s in set(sigs))
    limit = max(RARE_SIGNATURE_MIN, RARE_SIGNATURE_SHARE * len(signatures))
    return {s for s, n in df.items() if n <= limit}


def _ref(case: CaseCoverage) -> CaseRef:
    return CaseRef(
        case_id=case.case_id, title=case.title, created_at=case.created_at, queue=case.queue
    )


def _summary(cluster_size: int, recent: int, days: int, label: str, first: datetime) -> str:
    if recent:
        return f"{recent} tickets in the last {days} days about {label}, no runbook"
    return f"{cluster_size} tickets since {first:%Y-%m-%d} about {label}, no runbook (none lately)"


def build_gap_clusters(
    cases: Sequence[CaseCoverage],
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    until: datetime,
    starts: Sequence[date],
    config: CoverageConfig | None = None,
) -> tuple[list[GapCluster], int]:
    """Cluster the uncovered cases; returns clusters (ranked) and how many cases fit none."""
    config = config or CoverageConfig()
    uncovered = [i for i, c in enumerate(cases) if not c.covered]
    if not uncovered:
        return [], 0
    gap_idx = sorted(uncovered, key=lambda i: cases[i].created_at)[-config.max_cluster_cases :]
    sigs = [cases[i].signatures for i in gap_idx]
    rare = rare_signatures([c.signatures for c in cases])
    sim = similarity_matrix(vectors[gap_idx], sigs, rare, config.signature_bonus)
    groups = cluster_indices(sim, config.cluster_distance)
    groups = [g for g in groups if len(g) >= config.min_cluster_size]
    clustered = sum(len(g) for g in groups)
    # The covered cases, one class per runbook, are the topics the gaps must stand out from.
    background: dict[str | None, list[str]] = {}
    for text, case in zip(texts, cases, strict=True):
        if case.covered:
            background.setdefault(case.runbook_id, []).append(text)
    terms = class_terms(
        [[texts[gap_idx[j]] for j in g] for g in groups],
        list(background.values()),
        top=config.label_terms,
    )
    recent_from = until - timedelta(days=config.recent_days)
    previous_from = recent_from - timedelta(days=config.recent_days)
    clusters: list[GapCluster] = []
    for group, words in zip(groups, terms, strict=True):
        members = [cases[gap_idx[j]] for j in group]
        recent = sum(c.created_at > recent_from for c in members)
        previous = sum(previous_from < c.created_at <= recent_from for c in members)
        # Representatives: the cases most similar, on average, to the rest of the cluster.
        centrality = sim[np.ix_(group, group)].mean(axis=1)
        order = [group[k] for k in np.argsort(-centrality, kind="stable")]
        reps = [cases[gap_idx[j]] for j in order[: config.representatives]]
        shared = Counter(s for c in members for s in set(c.signatures))
        nearest = Counter(c.best_match.runbook_id for c in members if c.best_match)
        near_id = nearest.most_common(1)[0][0] if nearest else None
        near_scores = [m.score for c in members if (m := c.best_match) and m.runbook_id == near_id]
        first = min(c.created_at for c in members)
        label = ", ".join(words[:3]) or "(no distinctive terms)"
        clusters.append(
            GapCluster(
                id="",
                size=len(members),
                recent=recent,
                previous=previous,
                growth=recent / previous - 1 if previous else None,
                first_seen=first,
                last_seen=max(c.created_at for c in members),
                terms=words,
                label=label,
                signatures=[s for s, n in shared.most_common(5) if n >= 2],
                representatives=[_ref(r) for r in reps],
                case_ids=[c.case_id for c in sorted(members, key=lambda c: c.created_at)],
                queues=dict(Counter(c.queue or "(none)" for c in members).most_common()),
                products=dict(Counter(c.product or "(none)" for c in members).most_common()),
                nearest_runbook=near_id,
                nearest_runbook_score=sum(near_scores) / len(near_scores) if near_scores else None,
                weekly=week_series(weekly_counts((c.created_at for c in members), starts), starts),
                summary=_summary(len(members), recent, config.recent_days, label, first),
            )
        )
    # Volume now first, then growth, then total volume.
    clusters.sort(key=lambda c: (-c.recent, -(c.growth or 0.0), -c.size, c.first_seen))
    for rank, cluster in enumerate(clusters, start=1):
        cluster.id = f"gap-{rank}"
    return clusters, len(uncovered) - clustered
