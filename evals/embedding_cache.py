"""An embedder that remembers what it embedded, for one eval run.

An eval embeds the same texts several times (the index, the router's training set, the
examples as queries); embedding dominates its run time, so each text is embedded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from retrieval.protocols import Embedder, QueryEmbedder, query_vector


class CachingEmbedder:
    """Wraps an embedder; vectors are cached by text for the life of the object."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._cache: dict[bytes, np.ndarray] = {}
        self._query_cache: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts, computing only those not seen before (in one batch)."""
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts]
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._cache and key not in todo:
                todo[key] = text
        if todo:
            vectors = np.asarray(self.inner.embed(list(todo.values())), dtype=np.float32)
            for key, vector in zip(todo, vectors, strict=True):
                self._cache[key] = vector
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])

    def embed_query(self, text: str) -> np.ndarray:
        """A query vector as the inner embedder makes it (queries may differ from documents)."""
        if not isinstance(self.inner, QueryEmbedder):
            return self.embed([text])[0]  # document vectors are cached by embed
        vector = self._query_cache.get(text)
        if vector is None:
            vector = query_vector(self.inner, text)
            self._query_cache[text] = vector
            self.misses += 1
        else:
            self.hits += 1
        return vector
