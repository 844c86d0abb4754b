"""The triage engine without an LLM, and its fallback when the LLM fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casetext.redaction import Redactor
from casetext.signatures import extract_signatures
from casetext.tokens import TokenCounter
from core.domain import Case, Runbook
from core.errors import LLMError
from kb_ingest.chunking import chunk_markdown
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.search import HybridSearcher
from tests.fakes import HashingEmbedder
from triage.engine import TriageEngine
from triage.priority import assess_priority
from triage.questions import missing_information

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SIG_ERR = "LedgerlineSignatureVerificationError: webhook_signature_invalid for key_id=wk_live_1"


def _past(i: int, title: str, body: str, queue: str, cause: str, fix: str, **kw: object) -> Case:
    return Case(
        id=f"P-{i}",
        title=title,
        body=body,
        queue=queue,
        status=kw.pop("status", "resolved"),  # type: ignore[arg-type]
        priority=kw.pop("priority", "P2"),  # type: ignore[arg-type]
        root_cause=cause,
        resolution=fix,
        created_at=T0 + timedelta(days=i),
        error_signatures=extract_signatures(f"{title}\n{body}"),
        **kw,  # type: ignore[arg-type]
    )


PAST = [
    _past(1, "Webhooks rejected after secret rotation", SIG_ERR, "integrations",
          "Endpoint still verified with the old signing secret after rotation.",
          "Updated the endpoint secret from the dashboard. Verified deliveries succeed."),
    _past(2, "Signature verification fails on all webhooks", SIG_ERR + " since upgrade",
          "integrations", "Endpoint still verified with the old signing secret after rotation.",
          "Customer deployed the new secret."),
    _past(3, "Refunds return HTTP 500", "POST /v1/refunds returned 500 Internal Server Error",
          "payments-api", "Refund service bug on partial captures.", "Hotfix deployed."),
    _past(4, "Export timeout", "ExportJobTimeout on monthly report", "data-platform",
          "Export exceeded the 300 s limit.", "Split the export by date range."),
]  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> TriageEngine:
    emb = HashingEmbedder()
    index = KnowledgeIndex(emb, MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3"))
    index.upsert_cases(PAST)
    body = (
        "# Webhook signature verification\n\n## Diagnosis\n\n"
        "1. Compare the signing secret in the dashboard with the endpoint's secret.\n"
        "2. Check the key_id in the Ledgerline-Signature header.\n"
    )
    rb = Runbook(id="webhooks/signatures", title="Webhook signature verification", body=body)
    chunks = chunk_markdown(rb.id, body, title=rb.title, max_tokens=120, overlap_tokens=10,
                            counter=TokenCounter())  # fmt: skip
    index.upsert_runbooks([(rb, chunks)])
    return TriageEngine(HybridSearcher(index), redactor=Redactor())


NEW = Case(
    id="N-1",
    title="All our webhooks fail signature check",
    body=f"Since this morning every event fails: {SIG_ERR}. Contact ops@acme.example",
    created_at=T0 + timedelta(days=30),
)


def test_retrieval_only_draft_is_complete_and_grounded(engine: TriageEngine) -> None:
    draft = engine.triage(NEW)
    assert draft.provenance.mode == "retrieval-only"
    assert draft.routing.queue == "integrations" and draft.routing.confidence > 0.5
    assert set(draft.routing.evidence_ids) <= {"P-1", "P-2"}
    top = draft.hypotheses[0]
    assert "old signing secret" in top.statement
    given = set(draft.provenance.evidence_ids)
    cited = {c.id for h in draft.hypotheses for c in h.evidence}
    assert cited and cited <= given
    assert all(h.next_step for h in draft.hypotheses)
    assert draft.related_runbooks[0].id.startswith("webhooks/signatures#")
    # Honest response: no facts from other customers' cases, asks for what is missing.
    assert "ops@acme.example" not in draft.customer_response
    assert "request ID" in draft.customer_response
    assert draft.missing_info_questions
    assert draft.possible_duplicate is None  # the similar cases are resolved, not open


def test_open_case_with_same_signature_is_a_possible_duplicate(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    index = KnowledgeIndex(emb, MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3"))
    twin = NEW.model_copy(update={"id": "O-1", "status": "open", "created_at": T0})
    index.upsert_cases(
        [twin.model_copy(update={"error_signatures": extract_signatures(twin.text)})]
    )
    draft = TriageEngine(HybridSearcher(index), redactor=Redactor()).triage(NEW)
    assert draft.possible_duplicate is not None and draft.possible_duplicate.id == "O-1"


class FailingWriter:
    def write(self, *args: object) -> object:
        raise LLMError("model timed out after 3 attempts")


def test_llm_failure_falls_back_to_retrieval_only(engine: TriageEngine) -> None:
    engine.writer = FailingWriter()  # type: ignore[assignment]
    draft = engine.triage(NEW)
    assert draft.provenance.mode == "retrieval-only"
    assert draft.provenance.fallback_reason and "timed out" in draft.provenance.fallback_reason


def test_no_history_still_gives_a_draft(tmp_path: Path) -> None:
    index = KnowledgeIndex(
        HashingEmbedder(), MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3")
    )
    draft = TriageEngine(HybridSearcher(index), redactor=None).triage(NEW)
    assert draft.routing.confidence == 0.0 and "manual routing" in draft.routing.rationale
    assert draft.hypotheses == [] and draft.customer_response


@pytest.mark.parametrize(
    ("text", "meta", "level"),
    [
        ("Production is down, we cannot process payments", {}, "P1"),
        ("Customers were charged twice for one order", {}, "P1"),
        ("Intermittent 502 errors since the deploy", {}, "P2"),
        ("How do I rotate my API key?", {}, "P4"),
        ("The CSV export has a column in the wrong order", {}, "P3"),
        ("The CSV export has a column in the wrong order", {"plan": "Enterprise"}, "P2"),
    ],
)
def test_priority(text: str, meta: dict[str, str], level: str) -> None:
    call = assess_priority(Case(id="x", body=text, metadata=meta))
    assert call.level == level and call.rationale


def test_missing_information_asks_only_for_what_is_absent() -> None:
    vague = Case(id="v", body="payments failing!!")
    precise = Case(
        id="p",
        body="Since 2026-06-01 10:42 UTC all calls fail: HTTP 503, req_8f2a, sdk 4.2.1. "
        "Logs attached below. We deployed a new version yesterday.",
    )
    assert len(missing_information(vague)) == 4
    assert missing_information(precise) == []


def test_only_cases_filed_earlier_are_evidence(engine: TriageEngine) -> None:
    early = NEW.model_copy(update={"id": "N-0", "created_at": T0 + timedelta(days=2, hours=12)})
    draft = engine.triage(early)
    assert {d.id for d in draft.similar_cases} <= {"P-1", "P-2"}
    assert draft.similar_cases
