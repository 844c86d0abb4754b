"""Per-case results in, metrics out: classification, ranking, gap detection, counts.

Metric keys are `part/task/system/metric`; a metric that is the mean of a per-case value
names it (`per_case`), which is what lets `compare` pair two runs case by case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evals.metrics import (
    average_precision,
    bootstrap_statistic,
    detection_scores,
    hit_at_k,
    ndcg_at_k,
    precision_coverage_curve,
    reciprocal_rank,
)
from evals.routing import (
    classification_metrics,
    coverage_at_precision,
    expected_calibration_error,
    macro_f1_bootstrap,
)
from evals.runs import CaseResult, MetricValue, summarise

RANK_KS = (1, 5, 10)
RANK_HEADLINE = {"recall@10", "mrr", "ndcg@10"}


@dataclass
class Scored:
    """Metrics, details and per-case results of some systems on some tasks."""

    metrics: dict[str, MetricValue] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    cases: list[CaseResult] = field(default_factory=list)

    def merge(self, other: Scored) -> None:
        """Add another block of results."""
        self.metrics.update(other.metrics)
        self.details.update(other.details)
        self.cases.extend(other.cases)


@dataclass(frozen=True)
class Prediction:
    """One system's answer on one classification example."""

    example_id: str
    truth: str
    predicted: str
    confidence: float | None = None
    note: str = ""


def score_classification(
    key: str, rows: Sequence[Prediction], *, n_resamples: int = 1000
) -> Scored:
    """Accuracy and macro-F1 (headline, with intervals), per-class scores, confusion, and,
    with confidences, calibration (ECE) and precision/coverage at every threshold."""
    part, task, system = key.split("/")
    out = Scored()
    if not rows:
        return out
    truth = [r.truth for r in rows]
    predicted = [r.predicted for r in rows]
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    base = classification_metrics(truth, predicted)
    out.metrics[f"{key}/accuracy"] = summarise(
        [float(c) for c in correct], per_case="accuracy", headline=True, n_resamples=n_resamples
    )
    out.metrics[f"{key}/macro_f1"] = MetricValue(
        value=base["macro_f1"],
        ci=macro_f1_bootstrap(truth, predicted, n_resamples=n_resamples),
        n=len(rows),
        headline=True,
    )
    detail: dict[str, Any] = {
        "labels": sorted(set(truth) | set(predicted)),
        "confusion": base["confusion"],
        "per_class": base["per_queue"],
    }
    confident = [r for r in rows if r.confidence is not None]
    if len(confident) == len(rows):
        conf = [float(r.confidence) for r in rows]  # type: ignore[arg-type]
        ece = expected_calibration_error(conf, correct)
        coverage, threshold = coverage_at_precision(conf, correct, 0.95)
        out.metrics[f"{key}/ece"] = MetricValue(value=ece, n=len(rows), higher_is_better=False)
        out.metrics[f"{key}/coverage_at_95_precision"] = MetricValue(value=coverage, n=len(rows))
        detail["threshold_at_95_precision"] = threshold
        detail["curve"] = [
            [round(t, 6), round(p, 6), round(c, 6)]
            for t, p, c in precision_coverage_curve(conf, correct)
        ]
    out.details[key] = detail
    out.cases = [
        CaseResult(
            part=part,
            task=task,
            system=system,
            example_id=r.example_id,
            truth=r.truth,
            predicted=r.predicted,
            confidence=round(r.confidence, 6) if r.confidence is not None else None,
            values={"accuracy": float(c)},
            note=r.note,
        )
        for r, c in zip(rows, correct, strict=True)
    ]
    return out


@dataclass(frozen=True)
class Ranking:
    """One system's ranked ids for one retrieval example."""

    example_id: str
    ranked: list[str]
    relevant: list[str]


def ranking_values(ranked: Sequence[str], relevant: set[str]) -> dict[str, float | None]:
    """Per-case ranking values: recall@k (any relevant in the top k), RR and nDCG@10."""
    values: dict[str, float | None] = {
        f"recall@{k}": hit_at_k(ranked, relevant, k) for k in RANK_KS
    }
    values["mrr"] = reciprocal_rank(ranked, relevant)
    values["ndcg@10"] = ndcg_at_k(ranked, relevant, 10)
    return values


def score_ranking(key: str, rows: Sequence[Ranking], *, n_resamples: int = 1000) -> Scored:
    """Recall@1/5/10, MRR and nDCG@10 with bootstrap intervals."""
    part, task, system = key.split("/")
    out = Scored()
    if not rows:
        return out
    per_case = [ranking_values(r.ranked, set(r.relevant)) for r in rows]
    for name in per_case[0]:
        out.metrics[f"{key}/{name}"] = summarise(
            [v[name] for v in per_case],
            per_case=name,
            headline=name in RANK_HEADLINE,
            n_resamples=n_resamples,
        )
    out.cases = [
        CaseResult(
            part=part,
            task=task,
            system=system,
            example_id=r.example_id,
            truth=sorted(r.relevant),
            predicted=r.ranked[:10],
            values=v,
        )
        for r, v in zip(rows, per_case, strict=True)
    ]
    return out


@dataclass(frozen=True)
class GapCall:
    """Gap detection on one example: is it covered, and the best runbook similarity."""

    example_id: str
    covered: bool
    score: float | None


def score_coverage(
    key: str, rows: Sequence[GapCall], threshold: float, *, n_resamples: int = 1000
) -> Scored:
    """Detecting "no runbook covers this": precision, recall and F1 of the gap class at the
    threshold, accuracy, and average precision over every threshold (threshold-free)."""
    part, task, system = key.split("/")
    out = Scored()
    if not rows:
        return out
    # No runbook at all to compare with: certainly a gap.
    scores = [r.score if r.score is not None else -1.0 for r in rows]
    gap_truth = [not r.covered for r in rows]
    gap_pred = [s < threshold for s in scores]
    correct = [t == p for t, p in zip(gap_truth, gap_pred, strict=True)]
    gap_score = [-s for s in scores]  # lower similarity: more likely a gap
    t_arr, p_arr, s_arr = np.array(gap_truth), np.array(gap_pred), np.array(gap_score)

    def stat(name: str) -> Any:
        return lambda idx: detection_scores(list(t_arr[idx]), list(p_arr[idx]))[name]

    found = detection_scores(gap_truth, gap_pred)
    for name in ("precision", "recall", "f1"):
        out.metrics[f"{key}/gap_{name}"] = MetricValue(
            value=found[name],
            ci=bootstrap_statistic(len(rows), stat(name), n_resamples=n_resamples),
            n=len(rows),
        )
    out.metrics[f"{key}/accuracy"] = summarise(
        [float(c) for c in correct], per_case="accuracy", headline=True, n_resamples=n_resamples
    )
    out.metrics[f"{key}/average_precision"] = MetricValue(
        value=average_precision(gap_truth, gap_score),
        ci=bootstrap_statistic(
            len(rows),
            lambda idx: average_precision(list(t_arr[idx]), list(s_arr[idx])),
            n_resamples=n_resamples,
        ),
        n=len(rows),
        headline=True,
    )
    out.details[key] = {
        "threshold": threshold,
        "gaps": sum(gap_truth),
        "flagged": sum(gap_pred),
        "curve": _gap_curve(gap_truth, scores),
    }
    out.cases = [
        CaseResult(
            part=part,
            task=task,
            system=system,
            example_id=r.example_id,
            truth=r.covered,
            predicted=not p,
            confidence=round(r.score, 6) if r.score is not None else None,
            values={"accuracy": float(c)},
        )
        for r, p, c in zip(rows, gap_pred, correct, strict=True)
    ]
    return out


def _gap_curve(gap_truth: Sequence[bool], scores: Sequence[float]) -> list[list[float]]:
    """(threshold, precision, recall) of gap detection at each distinct similarity."""
    points = []
    positives = sum(gap_truth)
    for t in sorted(set(scores)):
        flagged = [g for g, s in zip(gap_truth, scores, strict=True) if s <= t]
        tp = sum(flagged)
        if flagged and positives:
            points.append([round(t, 6), round(tp / len(flagged), 6), round(tp / positives, 6)])
    return points


def count_metric(count: int, n: int) -> MetricValue:
    """A count (fallbacks, parse failures): lower is better, never a hidden zero."""
    return MetricValue(value=float(count), n=n, higher_is_better=False, count=True)
