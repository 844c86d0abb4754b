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
