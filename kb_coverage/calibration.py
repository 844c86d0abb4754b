"""Calibrate the covered / not-covered threshold on labelled queries and evaluate it held out.

The labelled set is a list of queries that either have a runbook in the KB (covered) or
have none (a real gap), e.g. the Prometheus alerts. A fixed split (by a hash of each
query's group, stratified by label) picks the threshold on one half and reports precision
and recall on the other.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from casetext.signatures import extract_signatures
from core.errors import ValidationFailed
from kb_coverage.matching import RunbookMatcher, embed_texts

OBJECTIVE = "balanced accuracy (Youden's J): independent of how many cases are gaps"


class LabelledQuery(BaseModel):
    """A query and the runbook that covers it, or None when the KB has none (a gap)."""

    id: str
    group: str = ""
    text: str
    expected_runbook: str | None = None


class CalibrationSample(BaseModel):
    """One labelled query and its best runbook match."""

    id: str
    group: str = Field(description="queries of one group stay on one side of the split")
    score: float
    has_runbook: bool
    best_runbook: str | None = None
    expected_runbook: str | None = None


class ClassMetrics(BaseModel):
    """Precision and recall of one predicted class."""

    precision: float
    recall: float
    f1: float
    support: int


class SplitMetrics(BaseModel):
    """How a threshold does on one part of the labelled set."""

    n: int
    tp: int = Field(description="has a runbook, predicted covered")
    fp: int = Field(description="no runbook, predicted covered")
    fn: int = Field(description="has a runbook, predicted not covered")
    tn: int = Field(description="no runbook, predicted not covered")
    covered: ClassMetrics
    not_covered: ClassMetrics
    balanced_accuracy: float
    roc_auc: float | None
    right_runbook_precision: float | None = Field(
        description="of the queries predicted covered, the share whose best match is theirs"
    )


class CalibrationResult(BaseModel):
    """The chosen threshold with its calibration and held-out figures."""

    threshold: float
    objective: str = OBJECTIVE
    calibration: SplitMetrics
    held_out: SplitMetrics


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_samples(
    samples: Sequence[CalibrationSample],
) -> tuple[list[CalibrationSample], list[CalibrationSample]]:
    """A fixed, stratified half split: (calibration, held out)."""
    held: set[str] = set()
    for label in (True, False):
        groups = sorted({s.group for s in samples if s.has_runbook is label}, key=_digest)
        held.update(groups[1::2])
    calibration = [s for s in samples if s.group not in held]
    return calibration, [s for s in samples if s.group in held]


def _class_metrics(tp: int, fp: int, fn: int) -> ClassMetrics:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassMetrics(precision=precision, recall=recall, f1=f1, support=tp + fn)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.array([s for s, y in zip(scores, labels, strict=True) if y], dtype=float)
    neg = np.array([s for s, y in zip(scores, labels, strict=True) if not y], dtype=float)
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def evaluate(samples: Sequence[CalibrationSample], threshold: float) -> SplitMetrics:
    """Confusion counts, per-class precision/recall and AUC of a threshold on samples."""
    pred = [s.score >= threshold for s in samples]
    truth = [s.has_runbook for s in samples]
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    fp = sum(p and not t for p, t in zip(pred, truth, strict=True))
    fn = sum(t and not p for p, t in zip(pred, truth, strict=True))
    tn = len(samples) - tp - fp - fn
    covered = _class_metrics(tp, fp, fn)
    not_covered = _class_metrics(tn, fn, fp)
    right = [
        s.best_runbook is not None and s.best_runbook == s.expected_runbook
        for s, p in zip(samples, pred, strict=True)
        if p
    ]
    return SplitMetrics(
        n=len(samples),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        covered=covered,
        not_covered=not_covered,
        balanced_accuracy=(covered.recall + not_covered.recall) / 2,
        roc_auc=roc_auc([s.score for s in samples], truth),
        right_runbook_precision=sum(right) / len(right) if right else None,
    )


def choose_threshold(samples: Sequence[CalibrationSample]) -> float:
    """The threshold with the best balanced accuracy; among equals, the middle one.

    Candidates are midpoints between neighbouring scores, so the threshold sits in a gap
    of the calibration data rather than on one sample.
    """
    scores = sorted({s.score for s in samples})
    if not scores:
        raise ValidationFailed("no samples to calibrate on")
    cuts = [scores[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(scores)]
    cuts.append(scores[-1] + 1e-6)
    quality = [evaluate(samples, c).balanced_accuracy for c in cuts]
    best = max(quality)
    tied = [c for c, q in zip(cuts, quality, strict=True) if q >= best - 1e-12]
    return float(tied[len(tied) // 2])


def calibrate(samples: Sequence[CalibrationSample]) -> CalibrationResult:
    """Choose the threshold on the calibration half, report both halves."""
    calibration, held_out = split_samples(samples)
    if not any(s.has_runbook for s in calibration) or all(s.has_runbook for s in calibration):
        raise ValidationFailed("the calibration half needs queries with and without a runbook")
    threshold = choose_threshold(calibration)
    return CalibrationResult(
        threshold=threshold,
        calibration=evaluate(calibration, threshold),
        held_out=evaluate(held_out, threshold),
    )


def score_queries(
    matcher: RunbookMatcher, queries: Sequence[LabelledQuery], batch: int = 16
) -> list[CalibrationSample]:
    """Match every labelled query against the matcher's index of runbooks."""
    vectors = embed_texts(matcher.index, [q.text for q in queries], batch)
    samples: list[CalibrationSample] = []
    for query, vector in zip(queries, vectors, strict=True):
        match = matcher.match(query.text, vector, extract_signatures(query.text))
        samples.append(
            CalibrationSample(
                id=query.id,
                group=query.group or query.id,
                score=match.score if match else 0.0,
                has_runbook=query.expected_runbook is not None,
                best_runbook=match.runbook_id if match else None,
                expected_runbook=query.expected_runbook,
            )
        )
    return samples
