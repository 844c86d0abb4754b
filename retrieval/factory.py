"""Builds retrieval components from Settings (called from app lifespan or CLI, never at import)."""

from __future__ import annotations

from core.settings import Settings
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.protocols import Embedder, VectorStore
from retrieval.search import FusionWeights, HybridSearcher


def build_vector_store(settings: Settings, embedder: Embedder) -> VectorStore:
    """The Chroma store the settings name: embedded (default) or a server over HTTP."""
    from retrieval.chroma_store import ChromaVectorStore

    return ChromaVectorStore(
        embedder,
        mode=settings.chroma_mode,
        path=settings.chroma_path,
        host=settings.chroma_host,
        port=settings.chroma_port,
        prefix=settings.collection_prefix,
    )


def build_index(
    settings: Settings,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
) -> KnowledgeIndex:
    """The knowledge index over the configured embedder, vector store and lexical file."""
    from retrieval.embedding import build_embedder

    embedder = embedder or build_embedder(settings)
    store = store or build_vector_store(settings, embedder)
    lexical = LexicalIndex(settings.lexical_path, title_weight=settings.bm25_title_weight)
    return KnowledgeIndex(embedder, store, lexical)


def fusion_weights(settings: Settings) -> FusionWeights:
    """Fusion weights from settings."""
    return FusionWeights(
        k=settings.fusion_k,
        dense=settings.weight_dense,
        bm25=settings.weight_bm25,
        signature=settings.weight_signature,
        pool=settings.candidate_pool,
    )


def build_searcher(settings: Settings, index: KnowledgeIndex) -> HybridSearcher:
    """A hybrid searcher with the configured weights and signature extraction."""
    from casetext.signatures import extract_signatures

    return HybridSearcher(index, fusion_weights(settings), signature_extractor=extract_signatures)
