"""Threshold calibration: fixed split, threshold choice, held-out metrics."""

from __future__ import annotations

import pytest

from core.domain import Chunk, Runbook
from core.errors import ValidationFailed
from kb_coverage.calibration import (
    CalibrationSample,
    LabelledQuery,
    calibrate,
    choose_threshold,
    evaluate,
    roc_auc,
    score_queries,
    split_samples,
)
from kb_coverage.matching import RunbookMatcher
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from tests.fakes import HashingEmbedder


def _sample(i: int, score: float, has: bool, group: str | None = None) -> CalibrationSample:
    return CalibrationSample(
        id=f"q{i}",
        group=group or f"g{i}",
        score=score,
        has_runbook=has,
        best_runbook="rb" if has else "other",
        expected_runbook="rb" if has else None,
    )


def test_split_is_fixed_stratified_and_keeps_groups_together() -> None:
    samples = [_sample(i, i / 40, i % 4 != 0, group=f"g{i // 2}") for i in range(40)]
    cal, held = split_samples(samples)
    again = split_samples(list(reversed(samples)))
    assert {s.id for s in cal} == {s.id for s in again[0]}
    assert {s.group for s in cal}.isdisjoint({s.group for s in held})
    for part in (cal, held):
        assert any(s.has_runbook for s in part) and not all(s.has_runbook for s in part)
    assert 0.35 < len(cal) / len(samples) < 0.65


def test_roc_auc() -> None:
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.5], [True]) is None


def test_threshold_separates_separable_classes() -> None:
    samples = [_sample(i, 0.6 + i / 100, True) for i in range(10)]
    samples += [_sample(10 + i, 0.2 + i / 100, False) for i in range(5)]
    threshold = choose_threshold(samples)
    assert 0.24 < threshold < 0.6
    m = evaluate(samples, threshold)
    assert (m.tp, m.fp, m.fn, m.tn) == (10, 0, 0, 5)
    assert m.balanced_accuracy == 1.0 and m.roc_auc == 1.0
    assert m.right_runbook_precision == 1.0


def test_evaluate_counts_and_per_class_precision_recall() -> None:
    samples = [
        _sample(0, 0.9, True),
        _sample(1, 0.8, False),  # false "covered"
        _sample(2, 0.3, True),  # missed
        _sample(3, 0.2, False),
        _sample(4, 0.1, False),
    ]
    m = evaluate(samples, 0.5)
    assert (m.tp, m.fp, m.fn, m.tn) == (1, 1, 1, 2)
    assert m.covered.precision == 0.5 and m.covered.recall == 0.5
    assert m.not_covered.precision == 2 / 3 and m.not_covered.recall == 2 / 3
    # Of the two predicted covered, only q0 names its own runbook.
    assert m.right_runbook_precision == 0.5


def test_calibrate_reports_both_halves_and_needs_both_labels() -> None:
    samples = [_sample(i, 0.55 + (i % 7) / 20, True) for i in range(30)]
    samples += [_sample(100 + i, 0.15 + (i % 5) / 20, False) for i in range(12)]
    result = calibrate(samples)
    assert result.calibration.n + result.held_out.n == len(samples)
    assert result.held_out.balanced_accuracy == 1.0
    with pytest.raises(ValidationFailed):
        calibrate([_sample(i, 0.5, True) for i in range(6)])
    with pytest.raises(ValidationFailed):
        choose_threshold([])


def test_score_queries_matches_each_query() -> None:
    index = KnowledgeIndex(HashingEmbedder(128), MemoryVectorStore(), LexicalIndex(":memory:"))
    body = "etcd member health: check etcd cluster quorum and leader elections"
    index.upsert_runbooks(
        [(Runbook(id="etcd", title="etcd no leader", body=body),
          [Chunk(id="etcd#0", doc_id="etcd", kind="runbook", text=body)])]
    )  # fmt: skip
    queries = [
        LabelledQuery(id="a", text="etcd cluster has no leader", expected_runbook="etcd"),
        LabelledQuery(id="b", text="grafana dashboards fail to load"),
    ]
    samples = score_queries(RunbookMatcher(index), queries)
    assert [s.has_runbook for s in samples] == [True, False]
    assert samples[0].best_runbook == "etcd" and samples[0].group == "a"
    assert samples[0].score > samples[1].score
