"""Routing eval: accuracy, macro-F1, per-queue scores, calibration and coverage at 95% precision.

Runs the learned router and, on request, the plain baselines on one fixed stratified split.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import EvalError
from evals.metrics import bootstrap_ci
from retrieval.protocols import Embedder
from triage.automation import auto_apply_thresholds, precision_threshold
from triage.router import QueueRouter, RouterConfig

LabelledRow = tuple[str, str, str]  # (id, text, queue)
Example = tuple[str, str]  # (text, queue)
BASELINE_NAMES = ("majority", "word_tfidf_svc", "word_char_minilm_svc")


def load_labelled_csv(path: str | Path) -> list[LabelledRow]:
    """Rows (id, text, queue) of a CSV with those three columns; rows without a queue skipped."""
    path = Path(path)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # pasted logs make very long fields
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"id", "text", "queue"} - set(reader.fieldnames or ())
            if missing:
                raise EvalError(f"{path}: missing columns {sorted(missing)}", path=str(path))
            rows = [
                (r["id"], r["text"] or "", r["queue"].strip())
                for r in reader
                if (r.get("queue") or "").strip()
            ]
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc}", path=str(path)) from exc
    if not rows:
        raise EvalError(f"{path}: no labelled rows", path=str(path))
    return rows


def stratified_split(
    rows: Sequence[LabelledRow], test_size: float = 0.2, seed: int = 13
) -> tuple[list[LabelledRow], list[LabelledRow]]:
    """A fixed stratified train/test split: the same rows give the same split, every run.

    Each queue contributes round(test_size * its count) rows to the test part (a queue with
    a single row stays in training); input order is kept within each part.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    by_queue: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_queue.setdefault(row[2], []).append(i)
    test_idx: set[int] = set()
    for queue in sorted(by_queue):
        members = by_queue[queue]
        n_test = min(len(members) - 1, round(test_size * len(members)))
        if n_test > 0:
            test_idx.update(int(i) for i in rng.permutation(members)[:n_test])
    train = [r for i, r in enumerate(rows) if i not in test_idx]
    test = [r for i, r in enumerate(rows) if i in test_idx]
    return train, test


# -- metrics ------------------------------------------------------------------------------
def classification_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the true and predicted labels, per-queue scores, confusion."""
    if len(truth) != len(predicted):
        raise EvalError(f"{len(truth)} labels but {len(predicted)} predictions")
    labels = sorted(set(truth) | set(predicted))
    per_queue: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == label)
        n_pred = sum(1 for p in predicted if p == label)
        support = sum(1 for t in truth if t == label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_queue[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    n = len(truth)
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    return {
        "n": n,
        "accuracy": (sum(t == p for t, p in zip(truth, predicted, strict=True)) / n)
        if n
        else math.nan,
        "macro_f1": float(np.mean([q["f1"] for q in per_queue.values()])) if n else math.nan,
        "per_queue": per_queue,
        "confusion": confusion,
    }


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Top-label ECE: |accuracy - mean confidence| per equal-width bin, weighted by bin size."""
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return math.nan
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 falls in the first bin.
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() / conf.size * abs(hits[mask].mean() - conf[mask].mean())
    return float(total)


def coverage_at_precision(
    confidences: Sequence[float], correct: Sequence[bool], target: float = 0.95
) -> tuple[float, float | None]:
    """Share of cases routed when routing only above the lowest global threshold with
    precision >= target: test predictions sorted by confidence, the largest prefix (cut only
    between distinct confidences, so ties go in or out together) whose precision is >= target,
    divided by all cases. Returns (coverage, that threshold or None)."""
    if len(confidences) == 0:
        return math.nan, None
    threshold, size = precision_threshold(confidences, correct, target)
    return size / len(confidences), threshold


def macro_f1_bootstrap(
    truth: Sequence[str],
    predicted: Sequence[str],
    *,
    n_resamples: int = 1000,
    seed: int = 7,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1 (resampling cases)."""
    n = len(truth)
    if n == 0:
        return (math.nan, math.nan)
    labels = sorted(set(truth) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    t = np.array([index[x] for x in truth])
    p = np.array([index[x] for x in predicted])
    rng = np.random.default_rng(seed)
    k = len(labels)
    scores = np.empty(n_resamples)
    for r in range(n_resamples):
        sample = rng.integers(0, n, size=n)
        ts, ps = t[sample], p[sample]
        tp = np.bincount(ts[ts == ps], minlength=k)
        n_pred = np.bincount(ps, minlength=k)
        support = np.bincount(ts, minlength=k)
        present = (n_pred + support) > 0  # as in the point estimate: labels seen in the sample
        f1 = np.where(n_pred + support > 0, 2 * tp / np.maximum(n_pred + support, 1), 0.0)
        scores[r] = f1[present].mean()
    alpha = (1 - level) / 2
    return (float(np.quantile(scores, alpha)), float(np.quantile(scores, 1 - alpha)))


def score_predictions(
    truth: Sequence[str],
    predicted: Sequence[str],
    confidences: Sequence[float] | None = None,
    *,
    n_resamples: int = 1000,
) -> dict[str, Any]:
    """Every routing metric of one system's test predictions."""
    out = classification_metrics(truth, predicted)
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    out["ci95"] = {
        "accuracy": list(bootstrap_ci([float(c) for c in correct], n_resamples=n_resamples)),
        "macro_f1": list(macro_f1_bootstrap(truth, predicted, n_resamples=n_resamples)),
    }
    if confidences is not None:
        coverage, threshold = coverage_at_precision(confidences, correct, 0.95)
        out["coverage_at_95_precision"] = coverage
        out["threshold_at_95_precision"] = threshold
        out["ece"] = expected_calibration_error(confidences, correct, 10)
    return out


# -- systems ------------------------------------------------------------------------------
def _embed(
    embedder: Embedder | None, texts: list[str], given: np.ndarray | None
) -> np.ndarray | None:
    if given is not None:
        return np.asarray(given, dtype=np.float32)
    return embedder.embed(texts) if embedder is not None else None


def baseline_predictions(
    train: Sequence[Example],
    test: Sequence[Example],
    train_embeddings: np.ndarray | None,
    test_embeddings: np.ndarray | None,
    only: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """Test predictions of the plain baselines (no calibration, no kNN); `only` picks some.

    The embedding baseline runs only when embeddings are given.
    """
    wanted = set(only) if only is not None else set(BASELINE_NAMES)
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    x_train, y_train = [t for t, _ in train], [q for _, q in train]
    x_test = [t for t, _ in test]
    out: dict[str, list[str]] = {}
    if "majority" in wanted:
        out["majority"] = [Counter(y_train).most_common(1)[0][0]] * len(test)
    if not wanted & {"word_tfidf_svc", "word_char_minilm_svc"}:
        return out
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    w_train, w_test = word.fit_transform(x_train), word.transform(x_test)
    if "word_tfidf_svc" in wanted:
        out["word_tfidf_svc"] = list(LinearSVC().fit(w_train, y_train).predict(w_test))
    embedded = train_embeddings is not None and test_embeddings is not None
    if "word_char_minilm_svc" in wanted and embedded:
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        c_train, c_test = char.fit_transform(x_train), char.transform(x_test)
        f_train = sparse.hstack([w_train, c_train, sparse.csr_matrix(train_embeddings)], "csr")
        f_test = sparse.hstack([w_test, c_test, sparse.csr_matrix(test_embeddings)], "csr")
        out["word_char_minilm_svc"] = list(LinearSVC().fit(f_train, y_train).predict(f_test))
    return out


def evaluate_routing(
    train: Sequence[Example],
    test: Sequence[Example],
    embedder: Embedder | None,
    *,
    baselines: bool = False,
    config: RouterConfig | None = None,
    train_embeddings: np.ndarray | None = None,
    test_embeddings: np.ndarray | None = None,
    n_resamples: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the router on `train` (text, queue) pairs and score it on `test`.

    Embeddings are computed once per part (or passed in precomputed) and shared by the router
    and the baselines. Returns {"n", "accuracy", "macro_f1", "per_queue",
    "coverage_at_95_precision", "ece", "ci95", "confusion", "thresholds", "timing", ...}
    plus "baselines" {name: metrics} when asked.
    """
    if not train or not test:
        raise EvalError(f"need training and test examples, got {len(train)} and {len(test)}")
    say = progress or (lambda _msg: None)
    x_train, y_train = [t for t, _ in train], [q for _, q in train]
    x_test, y_test = [t for t, _ in test], [q for _, q in test]
    start = time.perf_counter()
    say(f"embedding {len(train) + len(test)} texts")
    e_train = _embed(embedder, x_train, train_embeddings)
    e_test = _embed(embedder, x_test, test_embeddings)
    embed_s = time.perf_counter() - start

    say("training the router")
    start = time.perf_counter()
    router = QueueRouter(embedder, config).fit(x_train, y_train, embeddings=e_train)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    predictions = router.predict(x_test, embeddings=e_test)
    predict_s = time.perf_counter() - start

    predicted = [p.queue for p in predictions]
    confidences = [p.confidence for p in predictions]
    result = score_predictions(y_test, predicted, confidences, n_resamples=n_resamples)
    # Per-queue auto-apply thresholds as `router report` would pick them; measured on test
    # predictions here, so they describe this split rather than tune anything.
    result["thresholds"] = auto_apply_thresholds(predicted, y_test, confidences)
    result["router"] = {
        "knn_blend": router.knn_blend,
        "validation": router.validation,
        "counts": router.counts,
        "embedder": router.embedder_name,
    }
    result["timing"] = {
        "embed_s": embed_s,
        "train_s": train_s,
        "predict_s": predict_s,
        "predict_ms_per_case": 1000 * predict_s / len(test),
    }
    if baselines:
        say("training the baselines")
        result["baselines"] = {
            name: score_predictions(y_test, preds, None, n_resamples=n_resamples)
            for name, preds in baseline_predictions(train, test, e_train, e_test).items()
        }
    return result
