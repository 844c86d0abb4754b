"""Throughput of the bundled ONNX MiniLM embedder on synthetic support tickets.

Compares what we ship (sort by length, pad to the longest text of each batch) with unsorted
batches and with padding every batch to the fixed 256-token maximum, at several batch sizes.

Run from the repository root:  .venv/bin/python -m benchmarks.embedder_speed [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from retrieval.embedding import (
    MINILM_MAX_TOKENS,
    MINILM_TOKENIZER_LOCATION,
    OnnxMiniLMEmbedder,
    Padding,
    packaged_file,
)

STRATEGIES: dict[str, tuple[bool, Padding]] = {
    "sorted+longest": (True, "longest"),  # shipped default
    "unsorted+longest": (False, "longest"),
    "fixed-256": (False, "max_length"),
}

_SUBJECTS = [
    "VPN drops after sleep",
    "Outlook keeps prompting for credentials",
    "Backup job failed on node {host}",
    "SSO login loop for staging tenant",
    "Printer error {code} on floor {n}",
    "Disk full on {host}",
    "API returns 502 behind the proxy",
    "Certificate expired for {host}",
]
_PHRASES = [
    "the user reports that after the latest update the client cannot connect to the server",
    "we restarted the service, cleared the cache and reinstalled the driver",
    "checked firewall rules and DNS resolution, both look fine",
    "the error appears intermittently in the logs when load is high",
    "customer impact is moderate, three sites affected",
    "workaround is to reboot but the issue returns within an hour",
    "escalated to tier two, please advise on next steps",
    "the attached trace shows a TLS handshake failure: certificate chain incomplete",
    "latency spikes line up with the queue backlog and replication lag",
    "database connection pool exhausted, kubernetes pods restart with OOMKilled",
    "ERROR 2024-05-14T09:12:44Z worker-3 timeout after 30000 ms (retry 3/5)",
]


def ticket_lengths(
    n: int, min_words: int, max_words: int, distribution: str, rng: np.random.Generator
) -> np.ndarray:
    """Word counts in [min_words, max_words]: uniform, or log-uniform (many short, few long)."""
    if distribution == "uniform":
        return rng.integers(min_words, max_words + 1, size=n)
    # Real ticket corpora are skewed like this: median ~26-55 words, a long tail of pasted logs.
    logs = rng.uniform(np.log(min_words), np.log(max_words + 1), size=n)
    return np.clip(np.exp(logs).astype(int), min_words, max_words)


def synthetic_tickets(
    n: int, min_words: int, max_words: int, seed: int, distribution: str = "log"
) -> list[str]:
    """N ticket-like texts of min_words to max_words words."""
    rng = np.random.default_rng(seed)
    texts = []
    for words in ticket_lengths(n, min_words, max_words, distribution, rng):
        subject = str(rng.choice(_SUBJECTS)).format(
            host=f"srv-{rng.integers(1, 99):02d}",
            code=f"0x{rng.integers(0, 0xFFFF):04X}",
            n=rng.integers(1, 9),
        )
        body_words = max(0, int(words) - len(subject.split()))
        body_parts: list[str] = []
        while len(body_parts) < body_words:
            body_parts.extend(f"{rng.choice(_PHRASES)}.".split())
        body = " ".join(body_parts[:body_words])
        texts.append(f"{subject}. {body}".strip())
    return texts


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024


@dataclass
class Run:
    """One measured configuration."""

    strategy: str
    batch_size: int
    seconds: float  # best of the timed rounds
    texts_per_s: float
    max_abs_diff: float  # against the shipped configuration at the same batch size
    peak_rss_mb: float | None = None  # of a fresh process running only this configuration


def configure(embedder: OnnxMiniLMEmbedder, strategy: str, batch_size: int) -> None:
    """Switch one loaded embedder to a configuration, so every run shares one session."""
    embedder.sort_by_length, embedder.padding = STRATEGIES[strategy]
    embedder.batch_size = batch_size


def isolated_peak_rss(texts: list[str], strategy: str, batch_size: int, threads: int) -> float:
    """Peak RSS (MB) of embedding the texts once with one configuration; run in a child."""
    embedder = OnnxMiniLMEmbedder(threads=threads)
    configure(embedder, strategy, batch_size)
    embedder.embed(texts)
    return peak_rss_mb()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a table and optionally one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--texts", type=int, default=512, help="number of texts")
    parser.add_argument("--min-words", type=int, default=10)
    parser.add_argument("--max-words", type=int, default=300)
    parser.add_argument(
        "--distribution", choices=["log", "uniform"], default="log", help="of word counts"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=None)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads; 0 = default")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (best kept)")
    parser.add_argument(
        "--memory", action="store_true", help="also measure each configuration's peak RSS"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    strategies = args.strategies or list(STRATEGIES)
    configs = [(s, b) for b in args.batch_sizes for s in strategies]

    texts = synthetic_tickets(
        args.texts, args.min_words, args.max_words, args.seed, args.distribution
    )
    tokenizer = Tokenizer.from_file(str(packaged_file(*MINILM_TOKENIZER_LOCATION)))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokens = np.array([len(e.ids) for e in tokenizer.encode_batch(texts)])

    # Before this process loads the model: a child's ru_maxrss starts at its parent's RSS.
    memory: dict[tuple[str, int], float] = {}
    if args.memory:
        spawn = multiprocessing.get_context("spawn")
        for strategy, batch_size in configs:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                job = pool.submit(isolated_peak_rss, texts, strategy, batch_size, args.threads)
                memory[strategy, batch_size] = job.result()

    rss_start = peak_rss_mb()
    load_start = time.perf_counter()
    embedder = OnnxMiniLMEmbedder(threads=args.threads)
    embedder.embed(texts[:2])
    load_s = time.perf_counter() - load_start

    # Rounds interleave the configurations, so a busy neighbour slows them all alike.
    best = dict.fromkeys(configs, float("inf"))
    vectors: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(args.repeat):
        for strategy, batch_size in configs:
            configure(embedder, strategy, batch_size)
            start = time.perf_counter()
            vectors[strategy, batch_size] = embedder.embed(texts)
            seconds = time.perf_counter() - start
            best[strategy, batch_size] = min(best[strategy, batch_size], seconds)

    runs: list[Run] = []
    for strategy, batch_size in configs:
        reference = vectors[strategies[0], batch_size]
        diff = float(np.abs(vectors[strategy, batch_size] - reference).max())
        seconds = best[strategy, batch_size]
        run = Run(strategy, batch_size, seconds, len(texts) / seconds, diff)
        run.peak_rss_mb = memory.get((strategy, batch_size))
        runs.append(run)
        rss = f"  peak RSS {run.peak_rss_mb:6.0f} MB" if run.peak_rss_mb is not None else ""
        print(
            f"{run.strategy:<18} batch {run.batch_size:>3}  {run.texts_per_s:8.1f} texts/s"
            f"  {run.seconds:7.2f} s  max|diff| {run.max_abs_diff:.1e}{rss}",
            flush=True,
        )

    result = {
        "texts": len(texts),
        "words": [args.min_words, args.max_words],
        "distribution": args.distribution,
        "tokens_mean": round(float(tokens.mean()), 1),
        "truncated_share": round(float((tokens > MINILM_MAX_TOKENS).mean()), 3),
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "load_s": round(load_s, 3),
        "rss_before_load_mb": round(rss_start, 1),
        "repeat": args.repeat,
        "peak_rss_mb": round(peak_rss_mb(), 1),  # this process: every configuration, one session
        "runs": [
            {
                **asdict(r),
                "seconds": round(r.seconds, 3),
                "texts_per_s": round(r.texts_per_s, 1),
                "peak_rss_mb": None if r.peak_rss_mb is None else round(r.peak_rss_mb, 1),
            }
            for r in runs
        ],
    }
    print(
        f"{len(texts)} texts, {args.min_words}-{args.max_words} words ({args.distribution}), "
        f"mean {result['tokens_mean']} tokens, {result['truncated_share']:.0%} truncated at "
        f"{MINILM_MAX_TOKENS}; model load {load_s:.2f} s; peak RSS {result['peak_rss_mb']} MB"
    )
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
