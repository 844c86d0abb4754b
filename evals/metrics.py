"""Ranking metrics and bootstrap confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def first_relevant_rank(ranked: Sequence[str], relevant: set[str]) -> int | None:
    """1-based rank of the first relevant id, or None when none was retrieved."""
    for i, doc_id in enumerate(ranked, start=1):
        if doc_id in relevant:
            return i
    return None


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant ids found in the top k (0.0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1.0 when any relevant id is in the top k."""
    return 1.0 if set(ranked[:k]) & relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    """1/rank of the first relevant id, 0.0 when none was retrieved."""
    rank = first_relevant_rank(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Binary-relevance nDCG@k."""
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1) if d in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 1000, seed: int = 7, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; (nan, nan) for no values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_resamples, arr.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def ranking_summary(
    runs: Sequence[tuple[Sequence[str], set[str]]], ks: Sequence[int] = (1, 5, 10)
) -> dict[str, object]:
    """Recall@k (any relevant in top k), MRR and nDCG@10 with bootstrap 95% intervals."""
    per_metric: dict[str, list[float]] = {f"recall@{k}": [] for k in ks}
    per_metric["mrr"] = []
    per_metric["ndcg@10"] = []
    for ranked, relevant in runs:
        for k in ks:
            per_metric[f"recall@{k}"].append(hit_at_k(ranked, relevant, k))
        per_metric["mrr"].append(reciprocal_rank(ranked, relevant))
        per_metric["ndcg@10"].append(ndcg_at_k(ranked, relevant, 10))
    out: dict[str, object] = {
        name: (float(np.mean(v)) if v else math.nan) for name, v in per_metric.items()
    }
    out["ci95"] = {name: list(bootstrap_ci(v)) for name, v in per_metric.items()}
    return out
