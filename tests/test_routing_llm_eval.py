"""Router alone vs router + LLM, with a fake LLM that always insists on one queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from casetext.tokens import TokenCounter
from core.domain import Case
from evals.routing_llm import as_new, evaluate_llm_routing
from tests.fake_llm import FakeLLM
from tests.fakes import HashingEmbedder
from triage.llm import LLMGateway
from triage.llm_draft import LLMDraftWriter

TOPICS = {
    "identity": "login fails invalid_grant oauth token expired sso",
    "billing": "invoice wrong amount plan upgrade charge proration",
}


def _cases(n: int) -> list[Case]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Case(id=f"c{i}", title=f"{q} issue {i}", body=TOPICS[q], queue=q,
             root_cause="cause", resolution="fix", created_at=t0 + timedelta(hours=i))
        for i in range(n)
        for q in [list(TOPICS)[i % 2]]
    ]  # fmt: skip


def test_llm_in_the_loop_is_measured_against_the_router() -> None:
    reply = json.dumps({
        "queue": "billing", "priority": "P3", "customer_response": "Thanks, we are on it and "
        "will update you shortly.", "hypotheses": [],
    })  # fmt: skip
    llm = FakeLLM([reply] * 10)
    writer = LLMDraftWriter(
        LLMGateway(llm, model_name="fake", max_retries=0, sleep=lambda s: None),
        TokenCounter(),
        queues={q: "" for q in TOPICS},
    )
    out = evaluate_llm_routing(_cases(40), HashingEmbedder(), writer, holdout=10)
    assert out["n"] == 10 and out["train"] == 30
    assert out["router"]["accuracy"] == 1.0
    # The router is confident on these easy cases, so the LLM's "billing" never overrides it.
    assert out["router+llm"]["accuracy"] == 1.0
    assert out["router+llm"]["queue_changed_by_llm"] == 0
    assert out["router+llm"]["fallbacks_to_retrieval_only"] == 0


def test_as_new_strips_labels() -> None:
    new = as_new(_cases(1)[0])
    assert new.queue is None and new.root_cause is None and new.status == "new"
