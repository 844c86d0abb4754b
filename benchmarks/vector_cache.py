"""Corpus vectors computed once with the real embedder and reused across benchmark variants.

Query-latency variants at 50k cases would otherwise re-embed the same corpus for every
mode; queries themselves are always embedded live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.protocols import Embedder, query_vector


class CachedCorpusEmbedder:
    """Looks texts up in a precomputed table; unknown texts go to the real embedder."""

    def __init__(self, real: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.real = real
        self.name = real.name
        self.dimension = real.dimension
        self._table = {t: vectors[i] for i, t in enumerate(texts)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Cached corpus vectors where known; anything else (queries) embedded live, every time."""
        missing = [t for t in texts if t not in self._table]
        live = dict(zip(missing, self.real.embed(missing), strict=True)) if missing else {}
        return np.stack([self._table[t] if t in self._table else live[t] for t in texts]).astype(
            np.float32
        )

    def embed_query(self, text: str) -> np.ndarray:
        """Queries are always embedded live, as the real embedder embeds queries."""
        return query_vector(self.real, text)


def load_or_embed(real: Embedder, texts: Sequence[str], cache_dir: Path) -> np.ndarray:
    """Vectors for texts, from cache_dir when this exact corpus was embedded before."""
    key = hashlib.sha256(("\x1f".join(texts) + real.name).encode()).hexdigest()[:16]
    path = cache_dir / f"vectors-{key}.npy"
    if path.is_file():
        return np.load(path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    vectors = real.embed(list(texts))
    np.save(path, vectors)
    return vectors
