"""The seams of retrieval: small protocols with named backends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from retrieval.filters import SearchFilters

MetadataValue = str | int | float | bool


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns an array of shape (len(texts), dimension)."""
        ...


@runtime_checkable
class QueryEmbedder(Protocol):
    """An embedder that embeds search queries differently from documents.

    Optional beside `Embedder`: the index uses it for queries when an embedder has it (the
    bundled model reads only a query's first tokens; models with query prefixes fit here too).
    """

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns a vector of shape (dimension,)."""
        ...


def query_vector(embedder: Embedder, text: str) -> np.ndarray:
    """A search query's vector: the embedder's own query embedding, else as a document."""
    if isinstance(embedder, QueryEmbedder):
        return np.asarray(embedder.embed_query(text), dtype=np.float32)
    return np.asarray(embedder.embed([text])[0], dtype=np.float32)


@dataclass(frozen=True)
class VectorHit:
    """One nearest neighbour: its id, cosine similarity and stored metadata."""

    # Chunk ids are "<doc_id>#<ordinal>" (the index enforces it): see retrieval.index.doc_id_of.

    id: str
    score: float
    metadata: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class VectorStore(Protocol):
    """Stores vectors with filterable metadata in named collections."""

    name: str

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert or replace vectors by id."""
        ...

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove vectors by id; unknown ids are ignored."""
        ...

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        *,
        with_metadata: bool = True,
    ) -> list[VectorHit]:
        """The k nearest vectors that pass the filters, most similar first.

        With with_metadata=False hits carry ids and scores only (empty metadata): a search
        that needs no more skips reading metadata back, which is most of a query's cost.
        """
        ...

    def count(self, collection: str) -> int:
        """Number of vectors in a collection (0 when it does not exist)."""
        ...

    def reset(self, collection: str) -> None:
        """Drop a collection and everything in it."""
        ...
