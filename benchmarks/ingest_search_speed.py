"""Ingest throughput vs the raw embedder, hybrid query latency at scale, peak RSS.

Usage:
  python -m benchmarks.ingest_search_speed [--ingest-sizes 10000] [--query-size 50000]
      [--modes embedded,http] [--queries 200] [--query-max-tokens 128,256]
      [--cache-dir benchmarks/results] [--json]

Ingest: what `casebook ingest cases` does with a JSONL file (read, validate, redact,
extract signatures, embed with the real ONNX model, write Chroma + the catalog); its
throughput is compared with the raw embedder given exactly the texts ingest embeds, all in
one call, in the same run (the machine is noisy; the ratio is what matters).
Query: the query-size corpus is embedded once (cached on disk), then loaded into each
mode; every query is embedded live, so latency includes query embedding. Query token
limits (--query-max-tokens) are compared query by query in the same run.
Prints a table; with --json, one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.synthetic import synthetic_cases
from benchmarks.vector_cache import CachedCorpusEmbedder, load_or_embed
from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from core.offline import configure_offline_env
from core.settings import Settings
from kb_ingest.pipeline import Ingestor
from retrieval.embedding import OnnxMiniLMEmbedder, build_embedder
from retrieval.factory import build_index, build_searcher
from retrieval.protocols import Embedder
from retrieval.search import SearchQuery


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A Chroma server on 127.0.0.1 for the http mode."""
    port = _free_port()
    exe = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma server did not start")


class _Workspace:
    """A temporary data directory, with a Chroma server in http mode."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.tmp = Path(tempfile.mkdtemp(prefix="casebook-bench-"))
        self.server: subprocess.Popen[bytes] | None = None
        overrides: dict[str, object] = {"data_dir": self.tmp / "data", "chroma_mode": mode}
        if mode == "http":
            self.server, port = start_chroma(self.tmp / "server")
            overrides["chroma_port"] = port
        self.settings = Settings(**overrides)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _ingest(settings: Settings, embedder: Embedder, source: Path, size: int) -> float:
    """`casebook ingest cases` on a JSONL file: read, redact, signatures, embed, write."""
    index = build_index(settings, embedder=embedder)
    ingestor = Ingestor(
        index, redactor=Redactor(), counter=TokenCounter(settings.tokenizer_encoding)
    )
    t0 = time.perf_counter()
    report = ingestor.ingest_cases(source)
    elapsed = time.perf_counter() - t0
    index.lexical.close()
    if report.loaded != size:
        raise RuntimeError(f"ingested {report.loaded} of {size} cases: {report.skipped}")
    return size / elapsed


def _raw_rate(embedder: Embedder, texts: Sequence[str]) -> float:
    """Texts per second of the embedder alone, all texts in one call (its best case)."""
    t0 = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> dict[str, object]:
    """All variants of one run."""
    configure_offline_env()
    real = build_embedder(Settings())
    modes = args.modes.split(",")
    out: dict[str, object] = {}
    real.embed([c.text for c in synthetic_cases(32, seed=7)])  # model load outside timing
    for size in [int(s) for s in args.ingest_sizes.split(",") if s]:
        cases = synthetic_cases(size)
        source = Path(tempfile.mkdtemp(prefix="casebook-bench-src-")) / "cases.jsonl"
        source.write_text("".join(c.model_dump_json() + "\n" for c in cases))
        # The raw embedder gets exactly the texts ingest embeds (redacted title + body).
        texts = [prepare_case(c, Redactor())[0].text for c in cases]
        raw = _raw_rate(real, texts)
        out[f"raw_embed/{size}"] = {"texts_per_s": round(raw, 1)}
        for mode in modes:
            ws = _Workspace(mode)
            try:
                rate = _ingest(ws.settings, real, source, size)
            finally:
                ws.close()
            out[f"ingest/{mode}/{size}"] = {
                "cases_per_s": round(rate, 1),
                "vs_raw_embedder": round(rate / raw, 3),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        shutil.rmtree(source.parent, ignore_errors=True)
    if args.query_size:
        corpus = [prepare_case(c, Redactor())[0] for c in synthetic_cases(args.query_size)]
        vectors = load_or_embed(real, [c.text for c in corpus], Path(args.cache_dir))
        cached = CachedCorpusEmbedder(real, [c.text for c in corpus], vectors)
        # Whole tickets (similar-case search) or titles (an engineer's search box).
        query_tokens = [int(n) for n in args.query_max_tokens.split(",")]
        if not isinstance(real, OnnxMiniLMEmbedder):
            raise SystemExit("--query-max-tokens needs the bundled ONNX embedder")
        pick = (lambda c: c.title) if args.query_text == "title" else (lambda c: c.text)
        queries = [pick(c) for c in synthetic_cases(args.queries, seed=99)]
        for mode in modes:
            ws = _Workspace(mode)
            try:
                index = build_index(ws.settings, embedder=cached)
                for start in range(0, len(corpus), 2048):
                    index.upsert_cases(corpus[start : start + 2048])
                searcher = build_searcher(ws.settings, index)
                searcher.search(SearchQuery(text=queries[0]))  # warm: BM25 build, caches
                # Query-length variants alternate query by query, so noise hits them alike.
                lat: dict[int, list[float]] = {n: [] for n in query_tokens}
                for q in queries:
                    for n in query_tokens:
                        real.query_max_tokens = n
                        index.clear_query_cache()
                        t1 = time.perf_counter()
                        searcher.search(SearchQuery(text=q, k=10))
                        lat[n].append((time.perf_counter() - t1) * 1000)
                for n, times in lat.items():
                    out[f"query/{mode}/{args.query_size}/{args.query_text}/q{n}"] = {
                        "p50_ms": round(float(np.percentile(times, 50)), 1),
                        "p95_ms": round(float(np.percentile(times, 95)), 1),
                        "peak_rss_mb": round(peak_rss_mb(), 1),
                    }
                index.lexical.close()
            finally:
                ws.close()
    return out


def main() -> None:
    """Parse arguments, run, print a table and optionally one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ingest-sizes", default="10000")
    parser.add_argument("--query-size", type=int, default=50000)
    parser.add_argument("--modes", default="embedded,http")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--query-text", choices=["full", "title"], default="full")
    parser.add_argument(
        "--query-max-tokens",
        default="128,256",
        help="query token limits compared in one run (the first is the default setting)",
    )
    parser.add_argument("--cache-dir", default="benchmarks/results")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = run(args)
    for key, row in res.items():
        if isinstance(row, dict):
            print(f"{key:<24} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
