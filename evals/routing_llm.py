"""Routing with the LLM in the loop, measured against the router alone, time-respecting.

The earliest cases train the router and fill the index; the latest labelled cases are
triaged as if new (labels, resolution and root cause removed), once by the router alone and
once with the LLM writing the draft.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from core.domain import Case
from evals.metrics import bootstrap_ci
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import Embedder
from retrieval.search import HybridSearcher
from triage.engine import DraftWriter, TriageEngine
from triage.router import train_from_cases

Progress = Callable[[int], None]


def as_new(case: Case) -> Case:
    """The case as it looked when filed: no queue, priority, resolution or root cause."""
    return case.model_copy(
        update={"queue": None, "priority": None, "resolution": None, "root_cause": None,
                "linked_runbooks": [], "status": "new"}
    )  # fmt: skip


def evaluate_llm_routing(
    cases: Sequence[Case],
    embedder: Embedder,
    writer: DraftWriter,
    *,
    holdout: int = 40,
    limit: int | None = None,
    queues: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Queue accuracy of the router alone vs router + LLM on the latest labelled cases."""
    ordered = sorted((c for c in cases if c.queue), key=lambda c: c.created_at)
    train, test = list(ordered[:-holdout]), list(ordered[-holdout:])[: limit or holdout]
    index = KnowledgeIndex(embedder, MemoryVectorStore(), LexicalIndex(":memory:"))
    index.upsert_cases(train)
    router = train_from_cases(train, embedder)
    searcher = HybridSearcher(index)
    alone = TriageEngine(searcher, redactor=None, router=router, queues=queues)
    with_llm = TriageEngine(searcher, redactor=None, router=router, writer=writer, queues=queues)
    hits_router: list[float] = []
    hits_llm: list[float] = []
    overrides = fallbacks = tokens_in = tokens_out = 0
    latency: list[float] = []
    for case in test:
        new = as_new(case)
        base = alone.triage(new)
        t0 = time.perf_counter()
        draft = with_llm.triage(new)
        latency.append((time.perf_counter() - t0) * 1000)
        hits_router.append(float(base.routing.queue == case.queue))
        hits_llm.append(float(draft.routing.queue == case.queue))
        overrides += draft.routing.queue != base.routing.queue
        fallbacks += draft.provenance.mode != "llm"
        tokens_in += draft.provenance.input_tokens
        tokens_out += draft.provenance.output_tokens
        if progress:
            progress(1)
    n = len(test)
    return {
        "n": n,
        "train": len(train),
        "router": {"accuracy": sum(hits_router) / n, "ci95": list(bootstrap_ci(hits_router))},
        "router+llm": {
            "accuracy": sum(hits_llm) / n,
            "ci95": list(bootstrap_ci(hits_llm)),
            "queue_changed_by_llm": overrides,
            "fallbacks_to_retrieval_only": fallbacks,
            "mean_input_tokens": tokens_in / n,
            "mean_output_tokens": tokens_out / n,
            "mean_latency_ms": sum(latency) / n,
        },
    }
