"""The LLM-written draft: evidence packed into the prompt, output checked before it is used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from casetext.tokens import TokenCounter
from core.domain import Case
from triage.draft import Hypothesis, PriorityCall, Routing, TriageDraft
from triage.evidence import Evidence
from triage.llm import EvidenceItem, LLMGateway, context_budget, load_prompt, pack_evidence

PROMPT = "triage_draft"
# Above this router confidence the model's queue is a note, not an override: measured router
# precision there is higher than any LLM's routing we could check (README "Evals").
ROUTER_TRUSTED = 0.8
# A response sharing this many consecutive words with an evidence item is retelling another
# customer's case as this one's: the template response is used instead.
COPIED_RUN = 10


class LLMDraftOutput(BaseModel):
    """The part of a draft the model writes; the rest comes from retrieval and the router."""

    model_config = ConfigDict(extra="ignore")

    queue: str
    routing_rationale: str = ""
    priority: Literal["P1", "P2", "P3", "P4"]
    priority_rationale: str = ""
    priority_signals: list[str] = Field(default_factory=list, max_length=8)
    hypotheses: list[Hypothesis] = Field(default_factory=list, max_length=5)
    customer_response: str = Field(min_length=20)
    missing_info_questions: list[str] = Field(default_factory=list, max_length=6)


def evidence_items(evidence: Evidence) -> list[EvidenceItem]:
    """Evidence in rank order, interleaving cases and runbooks so both survive truncation."""
    cases = []
    for hit in evidence.cases:
        past = evidence.case_records.get(hit.doc_id)
        if past is None:
            continue
        parts = [past.text[:1500]]
        if past.root_cause:
            parts.append(f"Root cause: {past.root_cause}")
        if past.resolution:
            parts.append(f"Resolution: {past.resolution}")
        cases.append(EvidenceItem(id=past.id, text="\n".join(parts), kind="case", title=past.title))
    runbooks = [
        EvidenceItem(
            id=hit.chunk_id or hit.doc_id,
            text=_chunk_text(evidence, hit.chunk_id) or hit.snippet,
            kind="runbook",
            title=hit.title,
            heading=hit.heading,
        )
        for hit in evidence.runbooks
    ]
    merged: list[EvidenceItem] = []
    for i in range(max(len(cases), len(runbooks))):
        merged.extend(x[i] for x in (cases, runbooks) if i < len(x))
    return merged


def _chunk_text(evidence: Evidence, chunk_id: str | None) -> str:
    return evidence.runbook_texts.get(chunk_id or "", "")


class LLMDraftWriter:
    """Writes drafts through the gateway and keeps only what the evidence supports."""

    def __init__(
        self,
        gateway: LLMGateway,
        counter: TokenCounter,
        *,
        queues: Mapping[str, str],
        context_tokens: int = 8192,
        max_output_tokens: int = 1200,
        prompt_version: str = "latest",
    ) -> None:
        self.gateway = gateway
        self.counter = counter
        self.queues = dict(queues)
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.prompt = load_prompt(PROMPT, prompt_version)

    def write(
        self,
        case: Case,
        evidence: Evidence,
        routing: Routing,
        priority: PriorityCall,
        baseline: TriageDraft,
    ) -> TriageDraft:
        """An LLM draft; raises an LLMError subclass when the model cannot produce one."""
        variables = {
            "allowed_queues": "\n".join(f"- {q}: {d}" for q, d in self.queues.items())
            or f"- {routing.queue}",
            "router_queue": routing.queue,
            "router_confidence": f"{routing.confidence:.2f}",
            "case_title": case.title,
            "case_body": case.body,
            "case_product": case.product,
            "customer_tier": case.metadata.get("tier") or case.metadata.get("plan"),
            "signatures": "\n".join(case.error_signatures) or "none",
            "evidence": "",
            "evidence_ids": "",
        }
        skeleton = sum(self.counter.count(m["content"]) for m in self.prompt.render(**variables))
        budget = context_budget(self.context_tokens, skeleton, self.max_output_tokens)
        items = evidence_items(evidence)
        packed = pack_evidence(items, budget_tokens=budget, counter=self.counter)
        variables["evidence"] = packed.text or "(no similar cases or runbooks were found)"
        variables["evidence_ids"] = ", ".join(packed.included_ids) or "(none)"
        result = self.gateway.generate(
            self.prompt, variables, LLMDraftOutput, max_output_tokens=self.max_output_tokens
        )
        out = result.value
        allowed_ids = set(packed.included_ids)
        hypotheses, dropped = check_citations(out.hypotheses, allowed_ids)
        final_routing = self._routing(out, routing)
        draft = baseline.model_copy(deep=True)
        draft.routing = final_routing
        draft.priority = PriorityCall(
            level=out.priority,
            rationale=out.priority_rationale or priority.rationale,
            signals=out.priority_signals or priority.signals,
        )
        draft.hypotheses = sorted(hypotheses, key=lambda h: -h.likelihood)
        copied = copies_evidence(out.customer_response, [i.text for i in items])
        draft.customer_response = baseline.customer_response if copied else out.customer_response
        draft.missing_info_questions = out.missing_info_questions or baseline.missing_info_questions
        prov = draft.provenance
        prov.mode = "llm"
        prov.model = result.model
        prov.prompt_version = result.prompt_id
        prov.input_tokens = result.input_tokens
        prov.output_tokens = result.output_tokens
        prov.cost_usd = result.cost_usd
        prov.latency_ms = round(baseline.provenance.latency_ms + result.latency_ms, 2)
        prov.evidence_ids = packed.included_ids
        prov.dropped_citations = dropped
        prov.attempts = result.attempts
        if copied:
            prov.fallback_reason = "response copied evidence text; template response used"
        return draft

    def _routing(self, out: LLMDraftOutput, routing: Routing) -> Routing:
        """The model may move the case to another allowed queue unless the router is sure."""
        unknown = bool(self.queues) and out.queue not in self.queues
        if out.queue == routing.queue or unknown or routing.confidence >= ROUTER_TRUSTED:
            note = ""
            if unknown:
                note = f" (model proposed unknown queue {out.queue!r})"
            elif out.queue != routing.queue:
                note = f" (model proposed {out.queue}; router at {routing.confidence:.0%} kept)"
            return routing.model_copy(
                update={"rationale": (out.routing_rationale or routing.rationale) + note}
            )
        # The router's probability for the model's choice, not the model's self-assessment.
        probs = {a.queue: a.confidence for a in routing.alternatives}
        return routing.model_copy(
            update={
                "queue": out.queue,
                "confidence": probs.get(out.queue, 0.0),
                "rationale": f"model overrode router ({routing.queue}): {out.routing_rationale}",
                "automation": "suggest",
            }
        )


def check_citations(
    hypotheses: list[Hypothesis], allowed: set[str]
) -> tuple[list[Hypothesis], int]:
    """Drop citations of ids that were not in the evidence, and hypotheses left with none."""
    kept: list[Hypothesis] = []
    dropped = 0
    for h in hypotheses:
        valid = [c for c in h.evidence if c.id in allowed]
        dropped += len(h.evidence) - len(valid)
        if valid:
            kept.append(h.model_copy(update={"evidence": valid}))
    return kept, dropped


def copies_evidence(response: str, texts: list[str], run: int = COPIED_RUN) -> bool:
    """True when the response repeats `run` consecutive words of any evidence text."""
    words = response.lower().split()
    if len(words) < run:
        return False
    grams = {" ".join(words[i : i + run]) for i in range(len(words) - run + 1)}
    for text in texts:
        t = text.lower().split()
        if any(" ".join(t[i : i + run]) in grams for i in range(len(t) - run + 1)):
            return True
    return False
