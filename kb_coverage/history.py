"""How similar resolved cases were handled: did their agents link a runbook?"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import BaseModel, Field

from core.domain import CaseStatus
from retrieval.filters import SearchFilters
from retrieval.index import COLLECTIONS, KnowledgeIndex, doc_id_of

RESOLVED = (CaseStatus.resolved.value, CaseStatus.closed.value)


class SimilarHistory(BaseModel):
    """Resolved cases close to one case, and how many of them linked a runbook."""

    neighbours: list[str] = Field(default_factory=list)
    linked: int = 0
    top_runbook: str | None = Field(default=None, description="most linked by the neighbours")

    @property
    def link_rate(self) -> float | None:
        """Share of neighbours that linked a runbook (None without neighbours)."""
        return self.linked / len(self.neighbours) if self.neighbours else None


def similar_history(
    index: KnowledgeIndex,
    vector: np.ndarray,
    case_id: str,
    *,
    k: int = 5,
    min_similarity: float = 0.6,
) -> SimilarHistory:
    """The k nearest resolved cases (other than case_id) at least min_similarity close."""
    hits = index.store.query(
        COLLECTIONS["case"],
        vector,
        k + 1,
        SearchFilters(status=list(RESOLVED)),
        with_metadata=False,
    )
    ids: list[str] = []
    for hit in hits:
        doc_id = doc_id_of(hit.id)
        if doc_id != case_id and hit.score >= min_similarity and doc_id not in ids:
            ids.append(doc_id)
    ids = ids[:k]
    if not ids:
        return SimilarHistory()
    records = index.lexical.get_many("case", ids)
    links: Counter[str] = Counter()
    linked = 0
    for doc_id in ids:
        rec = records.get(doc_id)
        runbooks = list(rec.payload.get("linked_runbooks") or []) if rec else []
        linked += bool(runbooks)
        links.update(runbooks)
    top = links.most_common(1)[0][0] if links else None
    return SimilarHistory(neighbours=ids, linked=linked, top_runbook=top)
