"""The triage engine: a new case in, a draft out — always, with or without an LLM."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from core.domain import Case
from core.errors import CasebookError
from retrieval.search import HybridSearcher
from triage.automation import AutomationThresholds
from triage.draft import PriorityCall, Routing, TriageDraft
from triage.evidence import Evidence, gather_evidence
from triage.priority import assess_priority
from triage.retrieval_draft import retrieval_only_draft
from triage.routing import Router, route

log = logging.getLogger(__name__)


class DraftWriter(Protocol):
    """Writes the LLM draft; raises a CasebookError when it cannot (the engine falls back)."""

    def write(
        self,
        case: Case,
        evidence: Evidence,
        routing: Routing,
        priority: PriorityCall,
        baseline: TriageDraft,
    ) -> TriageDraft:
        """An LLM-written draft for the case."""
        ...


class TriageEngine:
    """Prepares the case, gathers evidence, routes, prioritises and drafts."""

    def __init__(
        self,
        searcher: HybridSearcher,
        *,
        redactor: Redactor | None,
        router: Router | None = None,
        writer: DraftWriter | None = None,
        queues: Sequence[str] = (),
        thresholds: AutomationThresholds | None = None,
    ) -> None:
        self.searcher = searcher
        self.redactor = redactor
        self.router = router
        self.writer = writer
        self.queues = list(queues)
        self.thresholds = thresholds

    def triage(self, case: Case) -> TriageDraft:
        """The draft for a case: the LLM's when it succeeds, else retrieval-only."""
        started = time.perf_counter()
        prepared, _ = prepare_case(case, self.redactor)
        evidence = gather_evidence(prepared, self.searcher)
        routing = route(prepared, evidence, self.router, self.queues, self.thresholds)
        priority = assess_priority(
            prepared,
            [c.priority for c in evidence.case_records.values() if c.priority][:5],
        )
        baseline = retrieval_only_draft(
            prepared,
            evidence,
            routing,
            priority,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        if self.writer is None:
            return baseline
        try:
            return self.writer.write(prepared, evidence, routing, priority, baseline)
        except CasebookError as exc:
            # The case is never dropped: the retrieval-only draft stands, marked with why.
            log.warning("LLM draft failed for a case, using retrieval-only: %s", exc.code)
            baseline.provenance.fallback_reason = f"{exc.code}: {exc.message}"[:300]
            baseline.provenance.latency_ms = round((time.perf_counter() - started) * 1000, 2)
            return baseline
