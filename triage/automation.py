"""Automation levels: how far the router's confidence lets Casebook act on its own.

suggest    the queue is shown as a suggestion; the engineer picks
preselect  the queue is preselected in the review form; one click to accept
auto-apply the case is routed without review (only for queues with enough labelled data)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.draft import AutomationLevel, QueueChoice, Routing
from triage.router import RoutePrediction


class QueueThresholds(BaseModel):
    """Confidence needed to preselect or auto-apply one queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preselect: float = Field(default=0.6, ge=0, le=1)
    # None: this queue is never auto-applied (e.g. it never reached the precision target).
    auto_apply: float | None = Field(default=0.95, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> QueueThresholds:
        if self.auto_apply is not None and self.auto_apply < self.preselect:
            raise ValueError(
                f"auto_apply ({self.auto_apply}) must not be below preselect ({self.preselect})"
            )
        return self


class AutomationThresholds(BaseModel):
    """Global thresholds, per-queue overrides and the data-sufficiency minimum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: QueueThresholds = Field(default_factory=QueueThresholds)
    per_queue: dict[str, QueueThresholds] = Field(default_factory=dict)
    min_examples: int = Field(default=50, ge=0)

    def for_queue(self, queue: str) -> QueueThresholds:
        """The thresholds that apply to a queue (its override, else the default)."""
        return self.per_queue.get(queue, self.default)


def decide(
    prediction: RoutePrediction,
    counts: Mapping[str, int],
    thresholds: AutomationThresholds | None = None,
) -> tuple[AutomationLevel, str]:
    """The automation level for a prediction, and a one-line note saying why."""
    thresholds = thresholds or AutomationThresholds()
    queue, confidence = prediction.queue, prediction.confidence
    limits = thresholds.for_queue(queue)
    examples = int(counts.get(queue, 0))
    if limits.auto_apply is not None and confidence >= limits.auto_apply:
        if examples < thresholds.min_examples:
            # Confidence on a thinly trained queue is not trustworthy, however high it is.
            level: AutomationLevel = "preselect" if confidence >= limits.preselect else "suggest"
            return level, (
                f"auto-apply disabled for queue {queue}: only {examples} labelled examples "
                f"(need {thresholds.min_examples})"
            )
        return "auto-apply", (
            f"confidence {confidence:.2f} >= auto-apply threshold {limits.auto_apply:.2f} "
            f"for queue {queue} ({examples} labelled examples)"
        )
    if confidence >= limits.preselect:
        return "preselect", (
            f"confidence {confidence:.2f} >= preselect threshold {limits.preselect:.2f} "
            f"for queue {queue}"
        )
    return "suggest", (
        f"confidence {confidence:.2f} below preselect threshold {limits.preselect:.2f} "
        f"for queue {queue}"
    )


def routing_for(
    prediction: RoutePrediction,
    counts: Mapping[str, int],
    thresholds: AutomationThresholds | None = None,
    *,
    rationale: str = "",
) -> Routing:
    """The draft's Routing for a router prediction, with its automation level and note."""
    level, note = decide(prediction, counts, thresholds)
    return Routing(
        queue=prediction.queue,
        confidence=min(1.0, max(0.0, prediction.confidence)),
        alternatives=[
            QueueChoice(queue=q, confidence=min(1.0, max(0.0, p)))
            for q, p in prediction.alternatives[:3]
        ],
        rationale=rationale,
        automation=level,
        automation_note=note,
    )


def precision_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float = 0.95
) -> tuple[float | None, int]:
    """Lowest confidence t with precision >= target among predictions with confidence >= t.

    Predictions are sorted by confidence, highest first, and cut only between distinct
    confidence values (tied predictions are all in or all out). The answer is the largest
    such prefix whose precision is >= target: (its lowest confidence, its size). When no
    prefix reaches the target: (None, 0).
    """
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise ValueError(f"{conf.size} confidences but {hits.size} outcomes")
    if conf.size == 0:
        return None, 0
    order = np.argsort(-conf, kind="stable")
    conf, hits = conf[order], hits[order]
    precision = np.cumsum(hits) / np.arange(1, conf.size + 1)
    # A cut is valid after the last of a group of tied confidences.
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    ok = ends[precision[ends] >= target]
    if ok.size == 0:
        return None, 0
    last = int(ok[-1])
    return float(conf[last]), last + 1


def auto_apply_thresholds(
    predicted: Sequence[str],
    actual: Sequence[str],
    confidences: Sequence[float],
    *,
    target_precision: float = 0.95,
    min_support: int = 20,
) -> dict[str, float | None]:
    """Per predicted queue, the lowest confidence at which its precision >= target.

    Measured on validation predictions (never the training data). A queue whose qualifying
    predictions number fewer than `min_support` gets None (never auto-apply): a precision
    measured on a handful of cases says little.
    """
    if not len(predicted) == len(actual) == len(confidences):
        raise ValueError("predicted, actual and confidences must have the same length")
    out: dict[str, float | None] = {}
    for queue in sorted(set(predicted)):
        idx = [i for i, p in enumerate(predicted) if p == queue]
        threshold, size = precision_threshold(
            [confidences[i] for i in idx], [actual[i] == queue for i in idx], target_precision
        )
        out[queue] = threshold if size >= min_support else None
    return out


def thresholds_from_validation(
    picked: Mapping[str, float | None],
    base: AutomationThresholds | None = None,
) -> AutomationThresholds:
    """Thresholds whose per-queue auto-apply levels are the measured ones (None: never)."""
    base = base or AutomationThresholds()
    per_queue = dict(base.per_queue)
    for queue, threshold in picked.items():
        current = base.for_queue(queue)
        preselect = current.preselect if threshold is None else min(current.preselect, threshold)
        per_queue[queue] = QueueThresholds(preselect=preselect, auto_apply=threshold)
    return base.model_copy(update={"per_queue": per_queue})
