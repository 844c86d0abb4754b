"""Ranking metrics and bootstrap confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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


# -- classification, detection and agreement ---------------------------------------------
def precision_coverage_curve(
    confidences: Sequence[float], correct: Sequence[bool]
) -> list[tuple[float, float, float]]:
    """(threshold, precision, coverage) when acting only on cases with confidence >= threshold.

    One point per distinct confidence, highest threshold first; tied confidences are all in
    or all out. Coverage is the share of all cases acted on.
    """
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return []
    order = np.argsort(-conf, kind="stable")
    conf, hits = conf[order], hits[order]
    precision = np.cumsum(hits) / np.arange(1, conf.size + 1)
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    return [(float(conf[i]), float(precision[i]), (i + 1) / conf.size) for i in ends]


def detection_scores(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | None]:
    """Precision, recall and F1 of the positive class; None where a ratio has no denominator."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels but {len(predicted)} predictions")
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    n_pred = sum(1 for p in predicted if p)
    n_true = sum(1 for t in truth if t)
    precision = tp / n_pred if n_pred else None
    recall = tp / n_true if n_true else None
    f1: float | None = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def average_precision(truth: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the precision-recall steps: sum over distinct score thresholds (highest
    first) of the recall gained times the precision there; None when no case is positive."""
    if len(truth) != len(scores):
        raise ValueError(f"{len(truth)} labels but {len(scores)} scores")
    positives = sum(1 for t in truth if t)
    if positives == 0:
        return None
    s = np.asarray(scores, dtype=float)
    t = np.asarray(truth, dtype=float)
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    tp = np.cumsum(t)
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    ap, last_recall = 0.0, 0.0
    for i in ends:
        recall = tp[i] / positives
        ap += (recall - last_recall) * (tp[i] / (i + 1))
        last_recall = recall
    return float(ap)


def cohen_kappa(a: Sequence[object], b: Sequence[object]) -> float | None:
    """Cohen's kappa of two raters; None when chance agreement is 1 (both use one label)."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} ratings but {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    labels = set(a) | set(b)
    expected = sum((list(a).count(lab) / n) * (list(b).count(lab) / n) for lab in labels)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def mean_or_none(values: Sequence[float | None]) -> tuple[float | None, int, int]:
    """(mean of the values that exist or None, how many exist, how many are missing)."""
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    missing = len(values) - len(present)
    return (float(np.mean(present)) if present else None), len(present), missing


def bootstrap_statistic(
    n: int,
    statistic: Callable[[np.ndarray], float | None],
    *,
    n_resamples: int = 1000,
    seed: int = 7,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of any statistic of n cases, given as a function of
    resampled case indices; resamples where it is undefined (None) are left out."""
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        value = statistic(rng.integers(0, n, size=n))
        if value is not None and not math.isnan(value):
            values.append(value)
    if not values:
        return None
    alpha = (1 - level) / 2
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))
