"""Ingest throughput vs raw embedder throughput, hybrid query latency, peak RSS.

Usage: python benchmarks/ingest_search_speed.py [--sizes 10000,50000] [--modes embedded,http]
       [--queries 200] [--json]
Prints a table; with --json, one JSON object as the last line. Variants are compared within
one run (machines here are noisy).
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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import synthetic_cases
from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from core.offline import configure_offline_env
from core.settings import Settings
from retrieval.embedding import build_embedder
from retrieval.factory import build_index, build_searcher
from retrieval.search import SearchQuery


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_chroma(path: Path) -> tuple[subprocess.Popen[bytes], int]:
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


def run(sizes: list[int], modes: list[str], n_queries: int) -> dict[str, object]:
    """Run every (mode, size) variant and return the figures."""
    configure_offline_env()
    embedder = build_embedder(Settings())
    redactor = Redactor()
    results: dict[str, object] = {}
    # Raw embedder throughput on the same kind of texts, measured once in this run.
    sample = [c.text for c in synthetic_cases(2000, seed=7)]
    embedder.embed(sample[:64])  # load the model outside the timing
    t0 = time.perf_counter()
    embedder.embed(sample)
    raw = len(sample) / (time.perf_counter() - t0)
    results["raw_embed_texts_per_s"] = round(raw, 1)
    for mode in modes:
        for size in sizes:
            tmp = Path(tempfile.mkdtemp(prefix="casebook-bench-"))
            server = None
            try:
                overrides: dict[str, object] = {"data_dir": tmp / "data", "chroma_mode": mode}
                if mode == "http":
                    server, port = _start_chroma(tmp / "server")
                    overrides["chroma_port"] = port
                settings = Settings(**overrides)  # type: ignore[arg-type]
                index = build_index(settings, embedder=embedder)
                cases = synthetic_cases(size)
                t0 = time.perf_counter()
                for start in range(0, size, 512):
                    batch = [prepare_case(c, redactor)[0] for c in cases[start : start + 512]]
                    index.upsert_cases(batch)
                ingest_s = time.perf_counter() - t0
                searcher = build_searcher(settings, index)
                queries = [c.text[:400] for c in synthetic_cases(n_queries, seed=99)]
                searcher.search(SearchQuery(text=queries[0]))  # warm caches
                lat = []
                for q in queries:
                    t1 = time.perf_counter()
                    searcher.search(SearchQuery(text=q, k=10))
                    lat.append((time.perf_counter() - t1) * 1000)
                rate = size / ingest_s
                results[f"{mode}/{size}"] = {
                    "ingest_cases_per_s": round(rate, 1),
                    "ingest_vs_raw_embedder": round(rate / raw, 3),
                    "query_p50_ms": round(float(np.percentile(lat, 50)), 1),
                    "query_p95_ms": round(float(np.percentile(lat, 95)), 1),
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                }
                index.lexical.close()
            finally:
                if server is not None:
                    server.terminate()
                    server.wait(timeout=30)
                shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    """Parse arguments, run, print a table and optionally JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--modes", default="embedded,http")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = run([int(s) for s in args.sizes.split(",")], args.modes.split(","), args.queries)
    print(f"raw embedder: {res['raw_embed_texts_per_s']} texts/s")
    print(f"{'variant':<16}{'cases/s':>9}{'vs raw':>8}{'p50 ms':>8}{'p95 ms':>8}{'RSS MiB':>9}")
    for key, row in res.items():
        if isinstance(row, dict):
            print(
                f"{key:<16}{row['ingest_cases_per_s']:>9}{row['ingest_vs_raw_embedder']:>8}"
                f"{row['query_p50_ms']:>8}{row['query_p95_ms']:>8}{row['peak_rss_mb']:>9}"
            )
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
