"""The retrieval-only draft: made without an LLM, from past cases and runbooks alone.

Used when no LLM is configured and whenever the LLM fails, so a case always gets a draft.
Nothing in it is invented: hypotheses are root causes that resolved similar cases, next
steps come from those cases' resolutions or the matched runbook sections, and the
customer response is a fixed template filled only with what the ticket itself says.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from core.domain import Case
from triage.draft import (
    Citation,
    Hypothesis,
    PriorityCall,
    Provenance,
    RelatedDoc,
    Routing,
    TriageDraft,
)
from triage.duplicates import find_duplicate
from triage.evidence import Evidence
from triage.questions import missing_information

_STEP_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.{12,200})$|^\s*`([^`]{6,160})`", re.M)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _first_sentence(text: str, limit: int = 240) -> str:
    sentence = _SENTENCE.split(text.strip(), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def _diagnostic_step(chunk_text: str) -> str | None:
    """The first concrete step (numbered/bulleted line or inline command) in a runbook chunk."""
    for match in _STEP_LINE.finditer(chunk_text):
        step = (match.group(1) or match.group(2) or "").strip()
        if step:
            return step
    return None


def retrieval_hypotheses(evidence: Evidence, limit: int = 3) -> list[Hypothesis]:
    """Root causes of similar resolved cases, grouped, then matching runbook sections."""
    groups: OrderedDict[str, list[tuple[Case, float]]] = OrderedDict()
    for hit in evidence.cases:
        past = evidence.case_records.get(hit.doc_id)
        if past is None or not past.root_cause:
            continue
        key = past.root_cause.strip().lower()[:80]
        groups.setdefault(key, []).append((past, hit.score))
    total = sum(score for members in groups.values() for _, score in members) or 1.0
    hypotheses: list[Hypothesis] = []
    for members in groups.values():
        lead, _ = members[0]
        weight = sum(score for _, score in members) / total
        ids = ", ".join(c.id for c, _ in members)
        step = (
            f"Check whether the fix for {lead.id} applies: {_first_sentence(lead.resolution)}"
            if lead.resolution
            else f"Compare this case's logs and configuration with {lead.id}."
        )
        hypotheses.append(
            Hypothesis(
                statement=f"Same cause as {ids}: {_first_sentence(lead.root_cause or '')}",
                likelihood=round(min(0.9, weight), 3),
                evidence=[
                    Citation(id=c.id, quote=_first_sentence(c.root_cause or "", 200))
                    for c, _ in members[:3]
                ],
                next_step=step,
            )
        )
    for hit in evidence.runbooks:
        if len(hypotheses) >= limit:
            break
        chunk_id = hit.chunk_id or hit.doc_id
        step = _diagnostic_step(hit.snippet) or f"Follow '{hit.heading or hit.title}'."
        hypotheses.append(
            Hypothesis(
                statement=f"The failure described in runbook '{hit.title}' ({hit.heading}).",
                likelihood=0.2,
                evidence=[Citation(id=chunk_id, quote=_first_sentence(hit.snippet, 200))],
                next_step=step,
            )
        )
    hypotheses.sort(key=lambda h: -h.likelihood)
    return hypotheses[:limit]


def template_response(case: Case, routing: Routing, questions: list[str]) -> str:
    """A first response that promises nothing it cannot know."""
    subject = case.title.strip() or "the issue you reported"
    lines = [
        "Hello,",
        "",
        f'Thank you for reporting "{subject}". We have started investigating and will keep '
        "you updated as we learn more.",
    ]
    if questions:
        lines += ["", "To narrow this down quickly, could you send us:"]
        lines += [f"- {q}" for q in questions]
    lines += [
        "",
        f"Next step: an engineer from our {routing.queue} team is reviewing the details now "
        "and will reply with findings or further questions.",
        "",
        "Best regards,",
        "Support Engineering",
    ]
    return "\n".join(lines)


def related(evidence: Evidence) -> tuple[list[RelatedDoc], list[RelatedDoc]]:
    """Related runbook sections and similar cases, as shown beside the draft."""
    runbooks = [
        RelatedDoc(
            id=h.chunk_id or h.doc_id,
            title=h.title,
            score=round(h.score, 4),
            heading=h.heading,
            why=", ".join(h.explanation.bm25_terms[:5]),
        )
        for h in evidence.runbooks
    ]
    cases = [
        RelatedDoc(
            id=h.doc_id,
            title=h.title,
            score=round(h.score, 4),
            why=", ".join(h.explanation.shared_signatures[:2] or h.explanation.bm25_terms[:5]),
        )
        for h in evidence.cases
    ]
    return runbooks, cases


def retrieval_only_draft(
    case: Case,
    evidence: Evidence,
    routing: Routing,
    priority: PriorityCall,
    *,
    latency_ms: float = 0.0,
    fallback_reason: str | None = None,
) -> TriageDraft:
    """A complete draft from retrieval alone."""
    questions = missing_information(case)
    runbooks, cases = related(evidence)
    return TriageDraft(
        case_id=case.id,
        routing=routing,
        priority=priority,
        hypotheses=retrieval_hypotheses(evidence),
        customer_response=template_response(case, routing, questions),
        missing_info_questions=questions,
        related_runbooks=runbooks,
        similar_cases=cases,
        possible_duplicate=find_duplicate(case, evidence),
        provenance=Provenance(
            mode="retrieval-only",
            latency_ms=round(latency_ms, 2),
            evidence_ids=evidence.ids,
            fallback_reason=fallback_reason,
        ),
    )
