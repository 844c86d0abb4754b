"""Similar-case retrieval eval on GitBugs duplicates: BM25-only, dense-only and hybrid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from casetext.preparation import prepare_case
from casetext.signatures import extract_signatures
from core.domain import Case
from core.errors import EvalError, RecordError
from evals.gitbugs import read_duplicate_links
from evals.metrics import ranking_summary
from kb_ingest.case_readers import read_cases
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import Embedder
from retrieval.search import FusionWeights, HybridSearcher, SearchMode

MODES: tuple[SearchMode, ...] = ("hybrid", "bm25", "dense")
Progress = Callable[[int], None]


def _raw_id(case_id: str) -> str:
    # Presets may prefix ids with the project ("hadoop-13404344"); links use the bare id.
    return case_id.rsplit("-", 1)[-1]


def load_bug_corpus(bugs: Path, mapping: str = "gitbugs") -> list[Case]:
    """Bug reports as prepared cases (signatures extracted; redaction off: public data)."""
    cases: list[Case] = []
    for record in read_cases(bugs, fmt="csv", mapping=mapping):
        if isinstance(record, RecordError):
            continue
        cases.append(prepare_case(record, None)[0])
    if not cases:
        raise EvalError(f"no bug reports could be read from {bugs}")
    return cases


def build_eval_index(
    cases: list[Case], embedder: Embedder, progress: Progress | None = None
) -> KnowledgeIndex:
    """An isolated, exact, in-memory index of the corpus (never the user's own index)."""
    index = KnowledgeIndex(embedder, MemoryVectorStore(), LexicalIndex(":memory:"))
    index.upsert_cases(cases, progress=progress)
    return index


def evaluate_similar_cases(
    bugs: Path,
    duplicates: Path,
    embedder: Embedder,
    *,
    weights: FusionWeights | None = None,
    any_time: bool = False,
    k: int = 10,
    progress: Progress | None = None,
    index: KnowledgeIndex | None = None,
) -> dict[str, Any]:
    """Each bug with a duplicate is a query; candidates are the other bugs (earlier ones only,
    unless any_time). Returns Recall@1/5/10, MRR and nDCG@10 per mode with 95% intervals."""
    cases = load_bug_corpus(bugs)
    links = read_duplicate_links(duplicates)
    by_raw = {_raw_id(c.id): c for c in cases}
    index = index or build_eval_index(cases, embedder, progress)
    searcher = HybridSearcher(index, weights or FusionWeights(), extract_signatures)
    runs: dict[str, list[tuple[list[str], set[str]]]] = {m: [] for m in MODES}
    for case in cases:
        linked = [by_raw[r] for r in links.get(_raw_id(case.id), ()) if r in by_raw]
        relevant = {c.id for c in linked if any_time or c.created_at < case.created_at}
        if not relevant:
            continue
        for mode in MODES:
            hits = searcher.similar_cases(case.id, k, before_creation=not any_time, mode=mode)
            runs[mode].append(([h.doc_id for h in hits], relevant))
    n = len(runs["hybrid"])
    if n == 0:
        raise EvalError("no bug has a duplicate among the candidates; check the files")
    return {"n_queries": n, **{m: ranking_summary(runs[m]) for m in MODES}}
