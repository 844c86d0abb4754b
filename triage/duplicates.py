"""Possible duplicates: an open case with the same failure and near-identical text."""

from __future__ import annotations

from core.domain import Case
from triage.draft import RelatedDoc
from triage.evidence import Evidence

OPEN_STATUSES = {"new", "open", "pending"}


def find_duplicate(
    case: Case, evidence: Evidence, *, min_similarity: float = 0.9
) -> RelatedDoc | None:
    """The most similar open case that shares a signature (or, without any, is nearly identical)."""
    own = set(case.error_signatures)
    for hit in evidence.cases:
        other = evidence.case_records.get(hit.doc_id)
        if other is None or other.status not in OPEN_STATUSES:
            continue
        similarity = hit.explanation.dense_score or 0.0
        shared = own & set(other.error_signatures)
        # With signatures on both sides they must agree; without, demand near-identical text.
        needed = min_similarity if (own and shared) else max(min_similarity, 0.95)
        if (own and not shared) or similarity < needed:
            continue
        why = f"open case, text similarity {similarity:.2f}"
        if shared:
            why += f", shares {', '.join(sorted(shared)[:3])}"
        return RelatedDoc(id=other.id, title=other.title, score=similarity, why=why)
    return None
