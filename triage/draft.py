"""The triage draft: what an engineer reviews when a new case arrives."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DraftMode = Literal["llm", "retrieval-only"]
AutomationLevel = Literal["suggest", "preselect", "auto-apply"]


class Citation(BaseModel):
    """A piece of evidence a claim rests on: a similar case, a runbook chunk, or a quoted line."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="similar case id or runbook chunk id, as given in the evidence")
    quote: str = Field(default="", max_length=500, description="the line that supports the claim")


class QueueChoice(BaseModel):
    """A queue with the router's (or model's) confidence in it."""

    queue: str
    confidence: float = Field(ge=0, le=1)


class Routing(BaseModel):
    """Where the case should go, how sure we are, and why."""

    queue: str
    confidence: float = Field(ge=0, le=1)
    alternatives: list[QueueChoice] = Field(default_factory=list, max_length=3)
    rationale: str = ""
    evidence_ids: list[str] = Field(default_factory=list)
    automation: AutomationLevel = "suggest"
    automation_note: str = ""


class PriorityCall(BaseModel):
    """Priority level and the reasons for it."""

    level: Literal["P1", "P2", "P3", "P4"]
    rationale: str = ""
    signals: list[str] = Field(default_factory=list, description="impact words, prod-down, tier")


class Hypothesis(BaseModel):
    """A testable root-cause hypothesis, with its evidence and the step that would test it."""

    statement: str
    likelihood: float = Field(ge=0, le=1)
    evidence: list[Citation] = Field(default_factory=list)
    next_step: str = Field(description="the diagnostic step that would confirm or refute it")


class RelatedDoc(BaseModel):
    """A similar case or runbook section shown beside the draft."""

    id: str
    title: str
    score: float
    heading: str = ""
    why: str = ""


class Provenance(BaseModel):
    """How the draft was made, for audit and for the eval suite."""

    mode: DraftMode
    model: str | None = None
    prompt_version: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    evidence_ids: list[str] = Field(default_factory=list)
    dropped_citations: int = 0
    attempts: int = 0
    fallback_reason: str | None = None


class TriageDraft(BaseModel):
    """Everything Casebook proposes for a new case, waiting for an engineer's review."""

    case_id: str
    routing: Routing
    priority: PriorityCall
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    customer_response: str
    missing_info_questions: list[str] = Field(default_factory=list)
    related_runbooks: list[RelatedDoc] = Field(default_factory=list)
    similar_cases: list[RelatedDoc] = Field(default_factory=list)
    possible_duplicate: RelatedDoc | None = None
    provenance: Provenance
