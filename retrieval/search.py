"""Hybrid search over past cases and runbooks: dense + BM25 + error signatures, fused."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.domain import DocKind
from retrieval.filters import SearchFilters
from retrieval.fusion import weighted_rrf
from retrieval.index import COLLECTIONS, KnowledgeIndex, doc_id_of
from retrieval.lexical import query_terms

SearchMode = Literal["hybrid", "dense", "bm25"]
SignatureExtractor = Callable[[str], list[str]]


@dataclass(frozen=True)
class FusionWeights:
    """How the channels are fused (weighted RRF) and how deep each one looks."""

    k: int = 20
    dense: float = 1.0
    bm25: float = 1.5
    signature: float = 0.5
    pool: int = 100


class SearchQuery(BaseModel):
    """A search request."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=50_000)
    kind: DocKind = "case"
    k: int = Field(default=10, ge=1, le=100)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    signatures: list[str] | None = Field(
        default=None, description="error signatures of the query; None extracts them from text"
    )
    exclude_ids: list[str] = Field(default_factory=list)
    mode: SearchMode = "hybrid"


class MatchExplanation(BaseModel):
    """Why a document matched: each channel's score and rank, and what it shared."""

    fused_score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    bm25_terms: list[str] = Field(default_factory=list)
    signature_score: float | None = None
    shared_signatures: list[str] = Field(default_factory=list)


class SearchHit(BaseModel):
    """One document found, with its best chunk and the explanation of the match."""

    doc_id: str
    kind: DocKind
    rank: int
    score: float
    title: str
    chunk_id: str | None = None
    heading: str = ""
    snippet: str = ""
    queue: str | None = None
    product: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    explanation: MatchExplanation


_WORD = re.compile(r"[A-Za-z0-9_]+")


def _snippet(text: str, terms: Sequence[str], width: int = 280) -> str:
    lowered = text.lower()
    positions = [p for t in terms if (p := lowered.find(t)) >= 0]
    start = max(0, min(positions) - 60) if positions else 0
    piece = text[start : start + width].strip()
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")


class HybridSearcher:
    """Runs the three channels, fuses them and explains every hit."""

    def __init__(
        self,
        index: KnowledgeIndex,
        weights: FusionWeights | None = None,
        signature_extractor: SignatureExtractor | None = None,
    ) -> None:
        self.index = index
        self.weights = weights or FusionWeights()
        self.signature_extractor = signature_extractor

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Hybrid (or single-channel) search, collapsed to documents, best first."""
        kind, pool, filters = query.kind, max(self.weights.pool, query.k), query.filters
        exclude = list(query.exclude_ids)
        dense: dict[str, tuple[float, str]] = {}
        bm25: dict[str, tuple[float, str]] = {}
        sigs: dict[str, tuple[float, list[str]]] = {}

        if query.mode in ("hybrid", "dense"):
            vector = self.index.embed_query(query.text)
            # Chroma cannot exclude by metadata id list cheaply, so over-fetch and drop.
            for hit in self.index.store.query(
                COLLECTIONS[kind], vector, pool + len(exclude), filters, with_metadata=False
            ):
                doc_id = doc_id_of(hit.id)
                if doc_id in exclude:
                    continue
                if doc_id not in dense or hit.score > dense[doc_id][0]:
                    dense[doc_id] = (hit.score, hit.id)
        if query.mode in ("hybrid", "bm25"):
            for lex in self.index.lexical.search(kind, query.text, pool, filters, exclude):
                if lex.doc_id not in bm25:  # hits arrive best first
                    bm25[lex.doc_id] = (lex.score, lex.chunk_id)
        if query.mode == "hybrid" and self.weights.signature > 0:
            signatures = query.signatures
            if signatures is None and self.signature_extractor is not None:
                signatures = self.signature_extractor(query.text)
            for doc_id, score, shared in self.index.lexical.signature_matches(
                kind, signatures or [], pool, filters, exclude
            ):
                sigs[doc_id] = (score, shared)

        rankings = {
            "dense": sorted(dense, key=lambda d: -dense[d][0]),
            "bm25": sorted(bm25, key=lambda d: -bm25[d][0]),
            "signature": list(sigs),
        }
        weights = {
            "dense": self.weights.dense if query.mode != "bm25" else 0.0,
            "bm25": self.weights.bm25 if query.mode != "dense" else 0.0,
            "signature": self.weights.signature if query.mode == "hybrid" else 0.0,
        }
        if query.mode != "hybrid":  # single channel: keep it whatever its weight
            weights[query.mode] = 1.0
        fused = weighted_rrf(rankings, weights, self.weights.k)[: query.k]
        return self._hits(kind, query.text, fused, rankings, dense, bm25, sigs)

    def _hits(
        self,
        kind: DocKind,
        text: str,
        fused: list[tuple[str, float]],
        rankings: dict[str, list[str]],
        dense: dict[str, tuple[float, str]],
        bm25: dict[str, tuple[float, str]],
        sigs: dict[str, tuple[float, list[str]]],
    ) -> list[SearchHit]:
        if not fused:
            return []
        ids = [doc_id for doc_id, _ in fused]
        records = self.index.lexical.get_many(kind, ids)
        best_chunk = {d: (dense.get(d) or bm25.get(d) or (0.0, ""))[1] for d in ids}
        chunks = self.index.lexical.chunks(kind, [c for c in best_chunk.values() if c])
        rank_of = {ch: {d: i for i, d in enumerate(r, 1)} for ch, r in rankings.items()}
        terms = query_terms(text)
        hits: list[SearchHit] = []
        for rank, (doc_id, score) in enumerate(fused, start=1):
            rec = records.get(doc_id)
            if rec is None:  # deleted between channel query and now
                continue
            chunk = chunks.get(best_chunk[doc_id])
            body = chunk.text if chunk else ""
            words = {w.lower() for w in _WORD.findall(f"{rec.title} {body}")}
            matched = [t for t in terms if t in words] if doc_id in bm25 else []
            hits.append(
                SearchHit(
                    doc_id=doc_id,
                    kind=kind,
                    rank=rank,
                    score=score,
                    title=rec.title,
                    chunk_id=chunk.id if chunk else None,
                    heading=chunk.heading if chunk else "",
                    snippet=_snippet(body, matched),
                    queue=rec.queue,
                    product=rec.product,
                    status=rec.status,
                    created_at=datetime.fromtimestamp(rec.created_at, UTC)
                    if rec.created_at is not None
                    else None,
                    explanation=MatchExplanation(
                        fused_score=score,
                        dense_score=dense[doc_id][0] if doc_id in dense else None,
                        dense_rank=rank_of["dense"].get(doc_id),
                        bm25_score=bm25[doc_id][0] if doc_id in bm25 else None,
                        bm25_rank=rank_of["bm25"].get(doc_id),
                        bm25_terms=matched[:20],
                        signature_score=sigs[doc_id][0] if doc_id in sigs else None,
                        shared_signatures=sigs[doc_id][1] if doc_id in sigs else [],
                    ),
                )
            )
        return hits

    def similar_cases(
        self,
        case_id: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        before_creation: bool = False,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """Cases most similar to a stored case (itself excluded).

        With before_creation, only cases created before it count, as when it was filed.
        """
        case = self.index.get_case(case_id)
        flt = (filters or SearchFilters()).model_copy()
        if before_creation:
            cutoff = case.created_at
            if flt.created_before is None or flt.created_before > cutoff:
                flt.created_before = cutoff
        return self.search(
            SearchQuery(
                text=case.text or case.id,
                kind="case",
                k=k,
                filters=flt,
                signatures=case.error_signatures,
                exclude_ids=[case_id],
                mode=mode,
            )
        )
