"""Runbook matching, the similar-history lookup and the covered / not-covered decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.domain import Case, Chunk, Runbook
from kb_coverage.assessment import assess_cases, decide
from kb_coverage.config import CoverageConfig
from kb_coverage.history import SimilarHistory, similar_history
from kb_coverage.matching import RunbookMatch, RunbookMatcher, RunbookVocabulary, match_score
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from tests.fakes import HashingEmbedder

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)

RUNBOOKS = {
    "webhooks/signature": (
        "Webhook signature verification",
        [
            "Symptoms: webhook events rejected, signature verification failed, "
            "webhook_signature_invalid in the endpoint logs.",
            "Resolution: verify the raw request body is used and the signing secret matches.",
        ],
    ),
    "exports/timeouts": (
        "Export job timeouts",
        ["Large CSV exports time out after 300 seconds; split the export by date range."],
    ),
}


def _runbooks() -> list[tuple[Runbook, list[Chunk]]]:
    items = []
    for rid, (title, parts) in RUNBOOKS.items():
        chunks = [
            Chunk(id=f"{rid}#{i}", doc_id=rid, kind="runbook", ordinal=i, heading_path=[title],
                  text=f"{title}\n{part}")
            for i, part in enumerate(parts)
        ]  # fmt: skip
        items.append((Runbook(id=rid, title=title, body="\n\n".join(parts)), chunks))
    return items


def _case(cid: str, text: str, days: int = 0, **kw: object) -> Case:
    title, _, body = text.partition("\n")
    return Case(id=cid, title=title, body=body, created_at=T0 + timedelta(days=days), **kw)  # type: ignore[arg-type]


@pytest.fixture
def index() -> KnowledgeIndex:
    idx = KnowledgeIndex(HashingEmbedder(256), MemoryVectorStore(), LexicalIndex(":memory:"))
    idx.upsert_runbooks(_runbooks())
    return idx


def test_match_score_is_the_geometric_mean_and_never_negative() -> None:
    assert match_score(0.64, 1.0) == pytest.approx(0.8)
    assert match_score(0.5, 0.5) == pytest.approx(0.5)
    assert match_score(-0.3, 0.9) == 0.0


def test_vocabulary_coverage_weights_rare_terms(index: KnowledgeIndex) -> None:
    vocab = RunbookVocabulary.from_index(index)
    terms = vocab.query_terms("webhook signature verification failed on our banana endpoint")
    assert "banana" not in terms  # no runbook has it: nothing could cover it
    full, shared = vocab.coverage(terms, "webhooks/signature")
    none, _ = vocab.coverage(terms, "exports/timeouts")
    assert full == pytest.approx(1.0) and "webhook" in shared
    assert none < 0.2
    assert vocab.coverage(frozenset(), "webhooks/signature") == (0.0, [])


def test_matcher_names_the_right_runbook_and_scores_a_gap_lower(index: KnowledgeIndex) -> None:
    matcher = RunbookMatcher(index)
    on_topic = "Webhook signature verification failed: webhook_signature_invalid on every event"
    off_topic = "SMS login codes never arrive for our UK phone numbers"
    vec = index.embedder.embed([on_topic, off_topic])
    hit = matcher.match(on_topic, vec[0])
    miss = matcher.match(off_topic, vec[1])
    assert hit is not None and hit.runbook_id == "webhooks/signature"
    assert hit.title == "Webhook signature verification" and hit.chunk_id
    assert hit.heading == "Webhook signature verification"
    assert "signature" in hit.shared_terms
    assert miss is None or miss.score < hit.score / 2


def test_matcher_on_an_empty_kb_finds_nothing() -> None:
    empty = KnowledgeIndex(HashingEmbedder(), MemoryVectorStore(), LexicalIndex(":memory:"))
    text = "anything at all"
    assert RunbookMatcher(empty).match(text, empty.embedder.embed([text])[0]) is None


def _match(score: float, rid: str = "webhooks/signature") -> RunbookMatch:
    return RunbookMatch(runbook_id=rid, score=score, dense_score=score, term_coverage=score)


def test_an_agents_link_decides_first() -> None:
    case = _case("C-1", "x", linked_runbooks=["exports/timeouts"], status="resolved")
    history = SimilarHistory(neighbours=["a", "b", "c"], linked=0)
    assert decide(case, _match(0.1), history, CoverageConfig()) == (
        True, "linked", "exports/timeouts",
    )  # fmt: skip


def test_similar_resolved_cases_overrule_the_match_score() -> None:
    config = CoverageConfig(threshold=0.5)
    open_case = _case("C-1", "x", status="open")
    unlinked = SimilarHistory(neighbours=["a", "b", "c", "d"], linked=0)
    linked = SimilarHistory(neighbours=["a", "b", "c", "d"], linked=4, top_runbook="rb/x")
    # A well-matching runbook, but agents solved such cases without one: a gap.
    assert decide(open_case, _match(0.9), unlinked, config) == (False, "similar_cases", None)
    # A vague ticket scoring low, but its neighbours were all solved with rb/x.
    assert decide(open_case, _match(0.1), linked, config) == (True, "similar_cases", "rb/x")


def test_a_resolved_case_without_a_link_is_one_more_vote_against() -> None:
    config = CoverageConfig(min_link_rate=0.5)
    half = SimilarHistory(neighbours=["a", "b", "c", "d"], linked=2, top_runbook="rb/x")
    assert decide(_case("C-1", "x", status="open"), None, half, config)[0] is True  # 2/4
    assert decide(_case("C-2", "x", status="resolved"), None, half, config)[0] is False  # 2/5


def test_without_enough_history_the_threshold_decides() -> None:
    config = CoverageConfig(threshold=0.5, min_neighbours=3)
    few = SimilarHistory(neighbours=["a", "b"], linked=0)
    case = _case("C-1", "x")
    assert decide(case, _match(0.6), few, config) == (True, "runbook_match", "webhooks/signature")
    assert decide(case, _match(0.4), few, config) == (False, "runbook_match", None)
    assert decide(case, None, None, config) == (False, "runbook_match", None)
    no_history = config.model_copy(update={"use_history": False})
    many = SimilarHistory(neighbours=["a", "b", "c"], linked=0)
    assert decide(case, _match(0.6), many, no_history)[1] == "runbook_match"


def test_similar_history_counts_only_close_resolved_other_cases(index: KnowledgeIndex) -> None:
    text = "Webhook signature failed\nwebhook_signature_invalid after deploy"
    cases = [
        _case("R-1", text, 0, status="resolved", linked_runbooks=["webhooks/signature"]),
        _case("R-2", text, 1, status="closed", linked_runbooks=["webhooks/signature"]),
        _case("R-3", text, 2, status="resolved"),
        _case("O-1", text, 3, status="open"),  # not resolved: not history
        _case("X-1", "Export timed out\nCSV export of May failed after 300 s", 4, status="closed"),
    ]
    index.upsert_cases(cases)
    vector = index.embedder.embed([text])[0]
    history = similar_history(index, vector, "R-1", k=5, min_similarity=0.9)
    assert sorted(history.neighbours) == ["R-2", "R-3"]
    assert history.linked == 1 and history.link_rate == 0.5
    assert history.top_runbook == "webhooks/signature"
    assert similar_history(index, np.zeros_like(vector), "R-1").neighbours == []


def test_assess_cases_end_to_end_on_a_small_kb(index: KnowledgeIndex) -> None:
    gap = "SMS login codes missing\nOur UK users get no SMS codes from the carrier at login"
    covered = "Webhook signature failed\nwebhook_signature_invalid on every webhook event"
    cases = [
        _case("G-1", gap, 0, status="resolved"),
        _case("G-2", gap, 1, status="resolved"),
        _case("G-3", gap, 2, status="closed"),
        _case("G-4", gap, 3, status="open"),
        _case("W-1", covered, 4, status="resolved", linked_runbooks=["webhooks/signature"]),
        _case("W-2", covered, 5, status="new"),
    ]
    index.upsert_cases(cases)
    config = CoverageConfig(threshold=0.3, neighbour_similarity=0.9, min_neighbours=3)
    done: list[int] = []
    result = assess_cases(index, cases, config, progress=done.append)
    by_id = {c.case_id: c for c in result.cases}
    assert sum(done) == len(cases) and result.vectors.shape == (6, 256)
    assert by_id["G-4"].covered is False and by_id["G-4"].basis == "similar_cases"
    assert by_id["G-4"].similar_resolved == 3 and by_id["G-4"].similar_linked == 0
    assert by_id["W-1"].basis == "linked" and by_id["W-1"].runbook_id == "webhooks/signature"
    # W-2 has one resolved neighbour: too few, so its match score decides.
    assert by_id["W-2"].basis == "runbook_match" and by_id["W-2"].covered
    assert by_id["W-2"].best_match is not None
    assert by_id["W-2"].best_match.runbook_id == "webhooks/signature"
