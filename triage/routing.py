"""Routing for the draft: the learned router when trained, else a vote of similar cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from core.domain import Case
from triage.automation import AutomationThresholds, decide
from triage.draft import QueueChoice, Routing
from triage.evidence import Evidence


class Router(Protocol):
    """What the engine needs of a trained router."""

    def predict(self, texts: Sequence[str], embeddings: Any = None) -> list[Any]:
        """Predictions with `.queue`, `.confidence` and `.probabilities` (queue -> p)."""
        ...


def vote(evidence: Evidence) -> dict[str, float]:
    """Queue distribution from the similar past cases, weighted by their fused scores."""
    weights: dict[str, float] = defaultdict(float)
    for hit in evidence.cases:
        if hit.queue:
            weights[hit.queue] += hit.score
    total = sum(weights.values())
    return {q: w / total for q, w in weights.items()} if total else {}


def route(
    case: Case,
    evidence: Evidence,
    router: Router | None = None,
    allowed: Sequence[str] = (),
    thresholds: AutomationThresholds | None = None,
) -> Routing:
    """Queue, confidence, alternatives, rationale and automation level.

    Evidence ids are the similar past cases in the chosen queue. Only a trained router's
    calibrated confidence can reach preselect or auto-apply; a vote always only suggests.
    """
    if router is not None:
        prediction = router.predict([case.text])[0]
        routing = _routing(case, evidence, prediction.probabilities, allowed, "learned router")
        if routing.queue == prediction.queue:
            level, note = decide(prediction, getattr(router, "counts", {}), thresholds)
            routing = routing.model_copy(update={"automation": level, "automation_note": note})
        return routing
    return _routing(case, evidence, vote(evidence), allowed, "vote of similar past cases")


def _routing(
    case: Case,
    evidence: Evidence,
    probabilities: Mapping[str, float],
    allowed: Sequence[str],
    source: str,
) -> Routing:
    if allowed:
        probabilities = {q: p for q, p in probabilities.items() if q in allowed}
    ranked = sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        fallback = case.queue or (allowed[0] if allowed else "unassigned")
        return Routing(
            queue=fallback,
            confidence=0.0,
            rationale="no trained router and no similar past cases; needs manual routing",
        )
    queue, confidence = ranked[0]
    supporters = [h.doc_id for h in evidence.cases if h.queue == queue][:5]
    rationale = f"{source}: {queue} at {confidence:.0%}"
    if supporters:
        rationale += f"; similar past cases in this queue: {', '.join(supporters[:3])}"
    return Routing(
        queue=queue,
        confidence=round(float(confidence), 4),
        alternatives=[QueueChoice(queue=q, confidence=round(float(p), 4)) for q, p in ranked[1:4]],
        rationale=rationale,
        evidence_ids=supporters,
    )
