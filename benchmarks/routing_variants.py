"""Queue-routing variants on one fixed stratified split: quality, train/predict time, memory.

Variants: majority class, word TF-IDF + LinearSVC, word+char TF-IDF + MiniLM + LinearSVC (the
plain baselines), and the shipped router with its parts switched off one at a time: text
only, no kNN blend, and the full router (kNN blend picked on a validation split in fit).
Each variant runs in a fresh process so its peak RSS is its own.

Run from the repository root:
    .venv/bin/python -m benchmarks.routing_variants [--data PATH] [--json]
Embedding ~38k tickets takes minutes on 2 cores: `--embeddings-cache /tmp/x.npy` keeps them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from evals.routing import (
    baseline_predictions,
    load_labelled_csv,
    score_predictions,
    stratified_split,
)
from triage.router import QueueRouter, RouterConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/endava-it-tickets/tickets.csv"
BASELINES = ("majority", "word_tfidf_svc", "word_char_minilm_svc")
ROUTERS: dict[str, dict[str, Any]] = {
    "router_text_only": {"embeddings": False, "config": {}},
    "router_no_knn": {"embeddings": True, "config": {"knn_blend": 0.0}},
    "router_isotonic": {"embeddings": True, "config": {"calibration": "isotonic"}},
    "router": {"embeddings": True, "config": {}},  # shipped defaults
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024


def load_embeddings(
    texts: list[str], cache: Path | None, data: Path, batch_size: int
) -> tuple[np.ndarray, float]:
    """MiniLM vectors of every text (from the cache when it matches), and the seconds spent."""
    if cache is not None and cache.is_file():
        vectors = np.load(cache)
        if vectors.shape[0] == len(texts):
            return vectors, 0.0
        print(f"ignoring {cache}: {vectors.shape[0]} rows, {data} has {len(texts)}")
    from retrieval.embedding import OnnxMiniLMEmbedder

    start = time.perf_counter()
    vectors = OnnxMiniLMEmbedder(batch_size=batch_size).embed(texts)
    seconds = time.perf_counter() - start
    if cache is not None:
        np.save(cache, vectors)
    return vectors, seconds


def run_variant(
    name: str, data: str, vectors_path: str, test_size: float, seed: int, resamples: int
) -> dict[str, Any]:
    """Train and score one variant (in a child process); returns metrics, timings and RSS."""
    rows = load_labelled_csv(data)
    vectors = np.load(vectors_path)
    position = {row[0]: i for i, row in enumerate(rows)}
    train, test = stratified_split(rows, test_size, seed)
    e_train = vectors[[position[r[0]] for r in train]]
    e_test = vectors[[position[r[0]] for r in test]]
    x_train, y_train = [r[1] for r in train], [r[2] for r in train]
    x_test, y_test = [r[1] for r in test], [r[2] for r in test]
    rss_loaded = peak_rss_mb()
    out: dict[str, Any] = {"variant": name}
    if name in BASELINES:
        start = time.perf_counter()
        preds = baseline_predictions(
            list(zip(x_train, y_train, strict=True)),
            list(zip(x_test, y_test, strict=True)),
            e_train if name == "word_char_minilm_svc" else None,
            e_test if name == "word_char_minilm_svc" else None,
            only=[name],
        )[name]
        # Baselines fit and predict in one call: the time is both together.
        out["train_s"] = time.perf_counter() - start
        out["predict_s"] = None
        metrics = score_predictions(y_test, preds, None, n_resamples=resamples)
    else:
        spec = ROUTERS[name]
        config = replace(RouterConfig(), **spec["config"])
        use = spec["embeddings"]
        start = time.perf_counter()
        router = QueueRouter(None, config).fit(
            x_train, y_train, embeddings=e_train if use else None
        )
        out["train_s"] = time.perf_counter() - start
        start = time.perf_counter()
        predictions = router.predict(x_test, embeddings=e_test if use else None)
        out["predict_s"] = time.perf_counter() - start
        predicted = [p.queue for p in predictions]
        confidences = [p.confidence for p in predictions]
        metrics = score_predictions(y_test, predicted, confidences, n_resamples=resamples)
        out["knn_blend"] = router.knn_blend
        out["validation"] = router.validation
        with tempfile.TemporaryDirectory() as tmp:
            saved = router.save(tmp)
            out["model_mb"] = sum(f.stat().st_size for f in saved.iterdir()) / 1e6
    out.update(
        {
            "n": metrics["n"],
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "ci95": metrics["ci95"],
            "coverage_at_95_precision": metrics.get("coverage_at_95_precision"),
            "threshold_at_95_precision": metrics.get("threshold_at_95_precision"),
            "ece": metrics.get("ece"),
            "per_queue_f1": {q: v["f1"] for q, v in metrics["per_queue"].items()},
            "rss_after_load_mb": rss_loaded,
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every variant, print a table and optionally one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV: id,text,queue")
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--embeddings-cache", type=Path, default=None, help=".npy to reuse")
    parser.add_argument("--batch-size", type=int, default=64, help="embedding batch size")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument(
        "--variants", nargs="+", choices=[*BASELINES, *ROUTERS], default=[*BASELINES, *ROUTERS]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)

    rows = load_labelled_csv(args.data)
    vectors, embed_s = load_embeddings(
        [r[1] for r in rows], args.embeddings_cache, args.data, args.batch_size
    )
    runs: list[dict[str, Any]] = []
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        vectors_path = str(Path(tmp) / "vectors.npy")
        np.save(vectors_path, vectors)
        del vectors
        for name in args.variants:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                job = pool.submit(
                    run_variant,
                    name,
                    str(args.data),
                    vectors_path,
                    args.test_size,
                    args.seed,
                    args.resamples,
                )
                run = job.result()
            runs.append(run)
            acc_ci = run["ci95"]["accuracy"]
            print(
                f"{name:<22} acc {run['accuracy']:.4f} [{acc_ci[0]:.3f}, {acc_ci[1]:.3f}]"
                f"  macro-F1 {run['macro_f1']:.4f}"
                f"  cov@95P {_fmt(run['coverage_at_95_precision'], '.4f')}"
                f"  ECE {_fmt(run['ece'], '.4f')}"
                f"  train {run['train_s']:6.1f} s  predict {_fmt(run['predict_s'], '5.1f')} s"
                f"  peak RSS {run['peak_rss_mb']:5.0f} MB",
                flush=True,
            )
    n_test = runs[0]["n"] if runs else 0
    result = {
        "data": str(args.data),
        "rows": len(rows),
        "test": n_test,
        "seed": args.seed,
        "embed_s": round(embed_s, 1),  # 0.0 when read from the cache
        "runs": runs,
    }
    print(
        f"{len(rows)} rows, {n_test} test; embedding "
        + (f"{embed_s:.0f} s" if embed_s else "from cache")
        + "; predict time excludes embedding; baselines' time is fit + predict"
    )
    if args.json:
        print(json.dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
