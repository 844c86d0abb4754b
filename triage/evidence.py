"""Evidence for a new case: similar past cases and runbook sections, with stable ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain import Case
from retrieval.filters import SearchFilters, epoch
from retrieval.search import HybridSearcher, SearchHit, SearchQuery


@dataclass
class Evidence:
    """What retrieval found for a case; every id here may be cited by a draft."""

    cases: list[SearchHit] = field(default_factory=list)
    case_records: dict[str, Case] = field(default_factory=dict)
    runbooks: list[SearchHit] = field(default_factory=list)
    runbook_texts: dict[str, str] = field(default_factory=dict)  # chunk id -> full text

    @property
    def ids(self) -> list[str]:
        """Every citable id: similar case ids and runbook chunk ids."""
        chunk_ids = [h.chunk_id or h.doc_id for h in self.runbooks]
        return [h.doc_id for h in self.cases] + chunk_ids

    def runbook_for_chunk(self, chunk_id: str) -> SearchHit | None:
        """The runbook hit a chunk id belongs to."""
        return next((h for h in self.runbooks if (h.chunk_id or h.doc_id) == chunk_id), None)


def gather_evidence(
    case: Case, searcher: HybridSearcher, *, k_cases: int = 8, k_runbooks: int = 5
) -> Evidence:
    """Similar cases created before this one (as when it was filed) and matching runbooks."""
    # Only cases filed before this one count. For live triage every indexed case is older,
    # and dropping the then-redundant filter spares the vector store a metadata scan.
    latest = searcher.index.lexical.latest_created("case")
    needed = latest is not None and latest >= epoch(case.created_at)
    before = SearchFilters(created_before=case.created_at) if needed else SearchFilters()
    text = case.text or case.id
    cases = searcher.search(
        SearchQuery(
            text=text,
            kind="case",
            k=k_cases,
            filters=before,
            signatures=case.error_signatures,
            exclude_ids=[case.id],
        )
    )
    runbooks = searcher.search(
        SearchQuery(text=text, kind="runbook", k=k_runbooks, signatures=case.error_signatures)
    )
    found = searcher.index.lexical.get_many("case", [h.doc_id for h in cases])
    records = {doc_id: Case.model_validate(rec.payload) for doc_id, rec in found.items()}
    chunk_ids = [h.chunk_id for h in runbooks if h.chunk_id]
    texts = {cid: c.text for cid, c in searcher.index.lexical.chunks("runbook", chunk_ids).items()}
    return Evidence(cases=cases, case_records=records, runbooks=runbooks, runbook_texts=texts)
