"""Covered or not, for every case in a window: runbook match, agents' links and history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from core.domain import Case
from kb_coverage.config import CoverageConfig
from kb_coverage.history import RESOLVED, SimilarHistory, similar_history
from kb_coverage.matching import RunbookMatch, RunbookMatcher, embed_texts
from retrieval.index import KnowledgeIndex

# linked: the case links a runbook; similar_cases: resolved cases like it did (or did not);
# runbook_match: the match score alone decided.
CoverageBasis = Literal["linked", "similar_cases", "runbook_match"]


class CaseCoverage(BaseModel):
    """One case's coverage decision and the evidence behind it."""

    case_id: str
    title: str = ""
    created_at: datetime
    status: str = ""
    queue: str | None = None
    product: str | None = None
    signatures: list[str] = Field(default_factory=list)
    linked_runbooks: list[str] = Field(default_factory=list)
    best_match: RunbookMatch | None = None
    match_covered: bool = Field(description="the match score alone reaches the threshold")
    covered: bool
    basis: CoverageBasis
    runbook_id: str | None = Field(default=None, description="the runbook that covers it")
    similar_resolved: int = Field(default=0, description="close resolved cases considered")
    similar_linked: int = Field(default=0, description="of those, how many linked a runbook")


@dataclass
class Assessment:
    """Decisions for a list of cases, with the texts and vectors later steps reuse."""

    cases: list[CaseCoverage]
    texts: list[str]
    vectors: np.ndarray


def decide(
    case: Case,
    match: RunbookMatch | None,
    history: SimilarHistory | None,
    config: CoverageConfig,
) -> tuple[bool, CoverageBasis, str | None]:
    """Covered?, on what basis, and by which runbook.

    An agent's link is the strongest evidence; then what agents did on enough similar
    resolved cases (this case's own resolution without a link is one more vote); then
    the match score against the calibrated threshold.
    """
    if case.linked_runbooks:
        return True, "linked", case.linked_runbooks[0]
    match_covered = match is not None and match.score >= config.threshold
    if config.use_history and history and len(history.neighbours) >= config.min_neighbours:
        votes = len(history.neighbours) + (case.status in RESOLVED)
        if history.linked / votes >= config.min_link_rate:
            runbook = history.top_runbook or (match.runbook_id if match else None)
            return True, "similar_cases", runbook
        return False, "similar_cases", None
    if match_covered and match is not None:
        return True, "runbook_match", match.runbook_id
    return False, "runbook_match", None


def assess_cases(
    index: KnowledgeIndex,
    cases: Sequence[Case],
    config: CoverageConfig | None = None,
    *,
    matcher: RunbookMatcher | None = None,
    progress: Callable[[int], None] | None = None,
) -> Assessment:
    """Match every case to its best runbook and decide whether it is covered."""
    config = config or CoverageConfig()
    matcher = matcher or RunbookMatcher(index)
    texts = [c.text or c.id for c in cases]
    vectors = embed_texts(index, texts, config.embed_batch)
    out: list[CaseCoverage] = []
    for case, text, vector in zip(cases, texts, vectors, strict=True):
        match = matcher.match(text, vector, case.error_signatures)
        history = None
        if config.use_history:
            history = similar_history(
                index,
                vector,
                case.id,
                k=config.neighbours,
                min_similarity=config.neighbour_similarity,
            )
        covered, basis, runbook = decide(case, match, history, config)
        out.append(
            CaseCoverage(
                case_id=case.id,
                title=case.title,
                created_at=case.created_at,
                status=case.status,
                queue=case.queue,
                product=case.product,
                signatures=list(case.error_signatures),
                linked_runbooks=list(case.linked_runbooks),
                best_match=match,
                match_covered=match is not None and match.score >= config.threshold,
                covered=covered,
                basis=basis,
                runbook_id=runbook,
                similar_resolved=len(history.neighbours) if history else 0,
                similar_linked=history.linked if history else 0,
            )
        )
        if progress is not None:
            progress(1)
    return Assessment(cases=out, texts=texts, vectors=vectors)
