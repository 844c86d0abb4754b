"""Rank fusion of retrieval channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def weighted_rrf(
    rankings: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
    k: int = 60,
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion: score(d) = sum_c w_c / (k + rank_c(d)), ranks from 1.

    Rank-based fusion needs no score calibration between BM25, cosine similarity and
    signature overlap, whose scales have nothing in common. Ties break by id for stability.
    """
    scores: dict[str, float] = {}
    for channel, ranked in rankings.items():
        weight = weights.get(channel, 0.0)
        if weight <= 0:
            continue
        for rank, doc_id in enumerate(ranked, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
