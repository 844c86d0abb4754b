"""The routing eval: loader, split, hand-computed metrics and a small end-to-end run."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest

from core.errors import EvalError
from evals.routing import (
    classification_metrics,
    coverage_at_precision,
    evaluate_routing,
    expected_calibration_error,
    load_labelled_csv,
    macro_f1_bootstrap,
    score_predictions,
    stratified_split,
)
from tests.fakes import HashingEmbedder


def rows_for(counts: dict[str, int]) -> list[tuple[str, str, str]]:
    out = []
    for queue, n in counts.items():
        out += [(f"{queue}-{i}", f"text {queue} {i}", queue) for i in range(n)]
    random.Random(0).shuffle(out)
    return out


def test_load_labelled_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        'id,text,queue\n1,"printer, jammed\nsecond line",Hardware\n2,no queue,\n3,,Access\n',
        encoding="utf-8",
    )
    assert load_labelled_csv(path) == [
        ("1", "printer, jammed\nsecond line", "Hardware"),
        ("3", "", "Access"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body,queue\n1,x,y\n", encoding="utf-8")
    with pytest.raises(EvalError, match="text"):
        load_labelled_csv(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("id,text,queue\n1,x,\n", encoding="utf-8")
    with pytest.raises(EvalError, match="no labelled rows"):
        load_labelled_csv(empty)
    with pytest.raises(EvalError, match="cannot read"):
        load_labelled_csv(tmp_path / "missing.csv")


def test_stratified_split_is_deterministic_and_stratified() -> None:
    rows = rows_for({"A": 100, "B": 41, "C": 5, "D": 1})
    train, test = stratified_split(rows, test_size=0.2, seed=13)
    assert stratified_split(rows, test_size=0.2, seed=13) == (train, test)
    assert stratified_split(rows, test_size=0.2, seed=14) != (train, test)
    assert sorted(train + test) == sorted(rows)
    assert not {r[0] for r in train} & {r[0] for r in test}
    assert Counter(r[2] for r in test) == {"A": 20, "B": 8, "C": 1}
    assert Counter(r[2] for r in train) == {"A": 80, "B": 33, "C": 4, "D": 1}
    # Input order is kept inside each part.
    position = {r: i for i, r in enumerate(rows)}
    assert [position[r] for r in test] == sorted(position[r] for r in test)
    with pytest.raises(ValueError):
        stratified_split(rows, test_size=1.0)


def test_classification_metrics_by_hand() -> None:
    truth = ["A", "A", "A", "B", "B", "C"]
    pred = ["A", "A", "B", "B", "C", "C"]
    m = classification_metrics(truth, pred)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # A: P=1, R=2/3, F1=0.8; B: P=1/2, R=1/2, F1=0.5; C: P=1/2, R=1, F1=2/3.
    assert m["per_queue"]["A"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["per_queue"]["C"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["confusion"]["A"] == {"A": 2, "B": 1, "C": 0}
    assert m["confusion"]["B"] == {"A": 0, "B": 1, "C": 1}


def test_a_queue_only_ever_predicted_counts_in_macro_f1() -> None:
    m = classification_metrics(["A", "A"], ["A", "Z"])
    assert m["per_queue"]["Z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)


def test_single_class_edge_case() -> None:
    perfect = score_predictions(["A"] * 4, ["A"] * 4, [0.9, 0.8, 0.7, 0.6], n_resamples=50)
    assert perfect["accuracy"] == 1.0 and perfect["macro_f1"] == 1.0
    assert perfect["coverage_at_95_precision"] == 1.0
    assert perfect["threshold_at_95_precision"] == 0.6
    assert perfect["ci95"]["accuracy"] == [1.0, 1.0]
    assert perfect["ci95"]["macro_f1"] == [1.0, 1.0]
    wrong = score_predictions(["A"] * 3, ["B"] * 3, [0.9] * 3, n_resamples=50)
    assert wrong["accuracy"] == 0.0 and wrong["macro_f1"] == 0.0
    assert wrong["coverage_at_95_precision"] == 0.0
    assert wrong["threshold_at_95_precision"] is None
    empty = classification_metrics([], [])
    assert empty["n"] == 0 and math.isnan(empty["accuracy"])


def test_coverage_at_95_precision_with_ties() -> None:
    # 19 right at 0.9 then a tie at 0.8 of one right and one wrong: 20/21 = 0.952 >= 0.95.
    conf = [0.9] * 19 + [0.8, 0.8] + [0.5, 0.4]
    hits = [True] * 19 + [True, False] + [False, True]
    assert coverage_at_precision(conf, hits) == (pytest.approx(21 / 23), 0.8)
    # Two wrong in the tie: 20/22 < 0.95, so the whole tie stays out.
    hits2 = [True] * 19 + [False, False] + [True, True]
    assert coverage_at_precision(conf, hits2) == (pytest.approx(19 / 23), 0.9)
    # The order of equal confidences in the input does not matter.
    assert coverage_at_precision(conf[::-1], hits[::-1]) == coverage_at_precision(conf, hits)
    assert coverage_at_precision([0.99], [False]) == (0.0, None)
    assert math.isnan(coverage_at_precision([], [])[0])


def test_expected_calibration_error_by_hand() -> None:
    # Bin (0.8, 0.9]: confidences 0.85, 0.85, accuracy 1/2 -> gap 0.35, weight 2/4.
    # Bin (0.9, 1.0]: confidences 1.0, 1.0, accuracy 1 -> gap 0.
    assert expected_calibration_error([0.85, 0.85, 1.0, 1.0], [True, False, True, True]) == (
        pytest.approx(0.175)
    )
    assert expected_calibration_error([0.7, 0.7], [True, True]) == pytest.approx(0.3)
    # Boundaries: 0.8 is in (0.7, 0.8], 0.0 in the first bin.
    assert expected_calibration_error([0.8, 0.0], [False, False]) == pytest.approx(0.4)
    assert math.isnan(expected_calibration_error([], []))


def test_macro_f1_bootstrap_brackets_the_point_estimate() -> None:
    rng = random.Random(2)
    truth = [rng.choice("ABC") for _ in range(300)]
    pred = [t if rng.random() < 0.7 else rng.choice("ABC") for t in truth]
    point = classification_metrics(truth, pred)["macro_f1"]
    low, high = macro_f1_bootstrap(truth, pred, n_resamples=300)
    assert low < point < high
    assert high - low < 0.2
    assert macro_f1_bootstrap(truth, pred, n_resamples=300) == (low, high)  # seeded


VOCAB = {
    "Hardware": ["laptop", "screen", "keyboard", "docking", "monitor", "charger"],
    "Access": ["password", "login", "account", "locked", "permission", "vpn"],
    "Storage": ["disk", "quota", "backup", "share", "drive", "folder"],
}
FILLER = ["please", "help", "thanks", "urgent", "today", "team", "hello", "issue"]


def test_evaluate_routing_end_to_end_with_baselines() -> None:
    rng = random.Random(4)
    rows = []
    for queue, words in VOCAB.items():
        for i in range(40):
            # One word in ten comes from another queue: some cases are genuinely unclear.
            other = rng.choice([w for q, ws in VOCAB.items() if q != queue for w in ws])
            tokens = rng.sample(words, 2) + rng.sample(FILLER, 3) + ([other] if i % 4 else [])
            rows.append((f"{queue}-{i}", " ".join(tokens), queue))
    train, test = stratified_split(rows, 0.25, seed=1)
    result = evaluate_routing(
        [(t, q) for _, t, q in train],
        [(t, q) for _, t, q in test],
        HashingEmbedder(),
        baselines=True,
        n_resamples=100,
    )
    assert result["n"] == 30
    assert set(result["per_queue"]) == set(VOCAB)
    assert sum(q["support"] for q in result["per_queue"].values()) == 30
    assert result["accuracy"] > 0.8
    assert 0 <= result["coverage_at_95_precision"] <= 1
    assert 0 <= result["ece"] <= 1
    low, high = result["ci95"]["accuracy"]
    assert low <= result["accuracy"] <= high
    assert set(result["baselines"]) == {"majority", "word_tfidf_svc", "word_char_minilm_svc"}
    assert result["baselines"]["majority"]["accuracy"] == pytest.approx(1 / 3)
    assert result["router"]["counts"] == dict.fromkeys(sorted(VOCAB), 30)
    assert result["timing"]["train_s"] > 0
    text_only = evaluate_routing(
        [(t, q) for _, t, q in train], [(t, q) for _, t, q in test], None, baselines=True
    )
    assert "word_char_minilm_svc" not in text_only["baselines"]
    with pytest.raises(EvalError):
        evaluate_routing([], [("x", "A")], None)
