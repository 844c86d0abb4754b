"""Triage draft latency: retrieval-only at scale, and the local LLM per case.

Usage:
  python -m benchmarks.triage_speed [--size 50000] [--cases 100] [--cache-dir benchmarks/results]
      [--llm-model openai/qwen-0.5b --llm-api-base http://127.0.0.1:8091/v1 --llm-cases 5]
      [--json]

Retrieval-only drafts run against `size` past cases in embedded Chroma (corpus vectors
cached on disk; each new case is embedded live). With --llm-*, the same engine drafts
through the LLM gateway and reports latency and tokens per case.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.synthetic import synthetic_cases
from benchmarks.vector_cache import CachedCorpusEmbedder, load_or_embed
from casetext.preparation import prepare_case
from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from core.offline import configure_offline_env
from core.settings import Settings
from retrieval.embedding import build_embedder
from retrieval.factory import build_index, build_searcher
from triage.engine import TriageEngine
from triage.llm import LiteLLMBackend, LLMGateway
from triage.llm_draft import LLMDraftWriter


def run(args: argparse.Namespace) -> dict[str, object]:
    """Build the corpus, then time drafts."""
    configure_offline_env()
    real = build_embedder(Settings())
    corpus = [prepare_case(c, Redactor())[0] for c in synthetic_cases(args.size)]
    vectors = load_or_embed(real, [c.text for c in corpus], Path(args.cache_dir))
    tmp = Path(tempfile.mkdtemp(prefix="casebook-triage-bench-"))
    out: dict[str, object] = {"past_cases": args.size}
    try:
        settings = Settings(data_dir=tmp)
        index = build_index(
            settings, embedder=CachedCorpusEmbedder(real, [c.text for c in corpus], vectors)
        )
        for start in range(0, len(corpus), 2048):
            index.upsert_cases(corpus[start : start + 2048])
        engine = TriageEngine(build_searcher(settings, index), redactor=Redactor())
        now = datetime.now(UTC)  # new cases arrive after every past case, as in production
        new = [
            c.model_copy(update={"id": f"new-{i}", "status": "new", "created_at": now})
            for i, c in enumerate(synthetic_cases(args.cases, seed=1234))
        ]
        engine.triage(new[0])  # warm-up
        lat = []
        for case in new:
            t0 = time.perf_counter()
            engine.triage(case)
            lat.append((time.perf_counter() - t0) * 1000)
        out["retrieval_only"] = {
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
        }
        if args.llm_model:
            gateway = LLMGateway(
                LiteLLMBackend(args.llm_model, api_base=args.llm_api_base, api_key="local"),
                model_name=args.llm_model,
                max_retries=1,
                timeout_s=600,
            )
            engine.writer = LLMDraftWriter(
                gateway, TokenCounter(), queues={}, context_tokens=args.llm_context
            )
            rows = []
            for case in new[: args.llm_cases]:
                t0 = time.perf_counter()
                draft = engine.triage(case)
                p = draft.provenance
                rows.append(
                    ((time.perf_counter() - t0) * 1000, p.input_tokens, p.output_tokens, p.mode)
                )
            out["llm"] = {
                "model": args.llm_model,
                "cases": len(rows),
                "p50_ms": round(float(np.percentile([r[0] for r in rows], 50)), 1),
                "max_ms": round(max(r[0] for r in rows), 1),
                "mean_input_tokens": round(float(np.mean([r[1] for r in rows])), 1),
                "mean_output_tokens": round(float(np.mean([r[2] for r in rows])), 1),
                "llm_drafts": sum(r[3] == "llm" for r in rows),
            }
        index.lexical.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    """Parse arguments, run, print and optionally emit one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=50000)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--cache-dir", default="benchmarks/results")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--llm-api-base", default=None)
    parser.add_argument("--llm-cases", type=int, default=5)
    parser.add_argument("--llm-context", type=int, default=3072)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = run(args)
    for key, row in res.items():
        print(f"{key:<16} {row}")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
