"""Ranking metrics checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    bootstrap_ci,
    hit_at_k,
    ndcg_at_k,
    ranking_summary,
    recall_at_k,
    reciprocal_rank,
)


def test_hand_computed_values() -> None:
    ranked = ["a", "b", "c", "d"]
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    assert recall_at_k(ranked, {"b", "d"}, 2) == 0.5
    assert hit_at_k(ranked, {"b", "d"}, 1) == 0.0 and hit_at_k(ranked, {"b", "d"}, 2) == 1.0
    # relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, {"b", "d"}, 10) == pytest.approx(expected)


def test_empty_sets() -> None:
    assert recall_at_k([], {"a"}, 5) == 0.0
    assert recall_at_k(["a"], set(), 5) == 0.0
    assert ndcg_at_k(["a"], set(), 10) == 0.0
    lo, hi = bootstrap_ci([])
    assert math.isnan(lo) and math.isnan(hi)


def test_bootstrap_interval_contains_mean_and_shrinks_with_n() -> None:
    small = [1.0, 0.0] * 10
    large = [1.0, 0.0] * 500
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= 0.5 <= hi_s and lo_l <= 0.5 <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s)
    assert bootstrap_ci([1.0] * 5) == (1.0, 1.0)


def test_summary_shape() -> None:
    out = ranking_summary([(["a", "b"], {"b"}), (["c"], {"c"})])
    assert out["recall@1"] == 0.5 and out["recall@5"] == 1.0
    assert out["mrr"] == pytest.approx(0.75)
    assert set(out["ci95"]) == {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"}  # type: ignore[arg-type]


# -- classification, detection, agreement, lexical proxy ----------------------------------
from evals.lexical_proxy import content_tokens, lexical_hit, token_overlap  # noqa: E402
from evals.metrics import (  # noqa: E402
    average_precision,
    bootstrap_statistic,
    cohen_kappa,
    detection_scores,
    mean_or_none,
    precision_coverage_curve,
)
from evals.routing import classification_metrics, expected_calibration_error  # noqa: E402
from evals.scoring import Prediction, ranking_values, score_classification  # noqa: E402


def test_precision_coverage_curve_keeps_ties_together() -> None:
    # Confidences 0.9 (right), 0.8 (right), 0.8 (wrong), 0.5 (wrong).
    curve = precision_coverage_curve([0.9, 0.8, 0.8, 0.5], [True, True, False, False])
    assert curve == [
        (0.9, 1.0, 0.25),
        (0.8, pytest.approx(2 / 3), 0.75),  # both 0.8 cases come in together
        (0.5, 0.5, 1.0),
    ]
    assert precision_coverage_curve([], []) == []
    assert precision_coverage_curve([0.7, 0.7], [True, False]) == [(0.7, 0.5, 1.0)]


def test_detection_scores_hand_computed_and_undefined() -> None:
    # truth gaps: a, b; flagged: a, c  -> tp 1, precision 1/2, recall 1/2
    found = detection_scores([True, True, False, False], [True, False, True, False])
    assert found == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    # Nothing flagged: precision undefined (None), recall 0.
    assert detection_scores([True, False], [False, False]) == {
        "precision": None, "recall": 0.0, "f1": None,
    }  # fmt: skip
    # No real gaps: recall undefined.
    assert detection_scores([False], [True])["recall"] is None
    assert detection_scores([], []) == {"precision": None, "recall": None, "f1": None}


def test_average_precision_hand_computed_with_ties() -> None:
    # Scores 0.9 (pos), 0.8 (neg), 0.7 (pos): AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision([True, False, True], [0.9, 0.8, 0.7]) == pytest.approx(5 / 6)
    # A tie between a positive and a negative at the top counts as one threshold:
    # recall 1/2 at precision 1/2, then recall 1 at precision 2/3.
    ap = average_precision([True, False, True], [0.9, 0.9, 0.1])
    assert ap == pytest.approx(0.5 * 0.5 + 0.5 * (2 / 3))
    assert average_precision([False, False], [0.3, 0.2]) is None
    assert average_precision([True], [0.0]) == 1.0


def test_cohen_kappa_hand_computed_single_class_and_empty() -> None:
    # 4 items: agree on 3. p_o = 0.75; p_e = (2/4*1/4) + (2/4*3/4) = 0.5 -> kappa 0.5
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 1], [1, 1]) is None  # one label each: chance agreement is 1
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 0], [0, 1]) == pytest.approx(-1.0)


def test_single_class_classification() -> None:
    out = classification_metrics(["a", "a"], ["a", "a"])
    assert out["accuracy"] == 1.0 and out["macro_f1"] == 1.0
    assert out["confusion"] == {"a": {"a": 2}}
    scored = score_classification(
        "p/routing/s", [Prediction("1", "a", "a", 1.0), Prediction("2", "a", "a", 1.0)]
    )
    assert scored.metrics["p/routing/s/accuracy"].ci == (1.0, 1.0)
    assert scored.details["p/routing/s"]["curve"] == [[1.0, 1.0, 1.0]]
    assert score_classification("p/routing/s", []).metrics == {}
    assert math.isnan(expected_calibration_error([], []))


def test_mean_or_none_counts_missing() -> None:
    assert mean_or_none([1.0, None, 0.0, float("nan")]) == (0.5, 2, 2)
    assert mean_or_none([None, None]) == (None, 0, 2)
    assert mean_or_none([]) == (None, 0, 0)


def test_bootstrap_statistic() -> None:
    assert bootstrap_statistic(0, lambda idx: 1.0) is None
    assert bootstrap_statistic(5, lambda idx: None) is None
    assert bootstrap_statistic(4, lambda idx: 0.25) == (0.25, 0.25)


def test_ranking_values_ties_and_empty() -> None:
    values = ranking_values(["x", "b", "a"], {"a", "b"})
    assert values["recall@1"] == 0.0 and values["recall@5"] == 1.0
    assert values["mrr"] == pytest.approx(0.5)
    assert values["ndcg@10"] == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    )
    assert ranking_values([], {"a"})["mrr"] == 0.0


def test_lexical_proxy() -> None:
    reference = "Idempotency key generated once per worker and reused for every payment."
    assert content_tokens("The keys were reused") == {"key", "reused"}
    # reference tokens: idempotency key generated once per worker reused every payment (9)
    assert token_overlap("a key reused by the worker", reference) == pytest.approx(3 / 9)
    hit, best = lexical_hit(["unrelated", "idempotency key generated once per worker"], reference)
    assert hit is True and best == pytest.approx(6 / 9)
    assert lexical_hit([], reference) == (False, 0.0)
    assert lexical_hit(["anything"], "the of a") == (None, None)
