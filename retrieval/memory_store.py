"""An exact, in-process vector store: brute-force cosine over a numpy matrix.

Useful where Chroma is not wanted (evals that rebuild indexes per run, tests); it
passes the same contract suite as the Chroma backends.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from retrieval.filters import SearchFilters
from retrieval.protocols import MetadataValue, VectorHit


class _Collection:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.metas: list[dict[str, Any]] = []


class MemoryVectorStore:
    """Vectors in memory; nothing persists."""

    name = "memory"

    def __init__(self) -> None:
        self._collections: dict[str, _Collection] = {}
        self._lock = threading.RLock()

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert or replace vectors by id."""
        if len(ids) == 0:
            return
        vecs = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            col = self._collections.setdefault(collection, _Collection())
            if col.vectors.shape[0] == 0:
                col.vectors = np.zeros((0, vecs.shape[1]), dtype=np.float32)
            new_rows: list[int] = []
            for i, doc_id in enumerate(ids):
                if doc_id in col.pos:
                    col.vectors[col.pos[doc_id]] = vecs[i]
                    col.metas[col.pos[doc_id]] = dict(metadatas[i])
                else:
                    col.pos[doc_id] = len(col.ids) + len(new_rows)
                    new_rows.append(i)
            if new_rows:
                col.ids.extend(ids[i] for i in new_rows)
                col.metas.extend(dict(metadatas[i]) for i in new_rows)
                col.vectors = np.vstack([col.vectors, vecs[new_rows]])

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove vectors by id; unknown ids are ignored."""
        with self._lock:
            col = self._collections.get(collection)
            if col is None:
                return
            drop = {col.pos[i] for i in ids if i in col.pos}
            if not drop:
                return
            keep = [p for p in range(len(col.ids)) if p not in drop]
            col.ids = [col.ids[p] for p in keep]
            col.metas = [col.metas[p] for p in keep]
            col.vectors = col.vectors[keep]
            col.pos = {doc_id: p for p, doc_id in enumerate(col.ids)}

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        *,
        with_metadata: bool = True,
    ) -> list[VectorHit]:
        """The k most similar vectors that pass the filters."""
        with self._lock:
            col = self._collections.get(collection)
            if col is None or not col.ids or k <= 0:
                return []
            scores = col.vectors @ np.asarray(vector, dtype=np.float32)
            if filters is not None and not filters.is_empty():
                mask = np.array([filters.matches(m) for m in col.metas])
                scores = np.where(mask, scores, -np.inf)
            n = min(k, len(col.ids))
            top = np.argpartition(-scores, n - 1)[:n]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [
                VectorHit(
                    id=col.ids[p],
                    score=float(scores[p]),
                    metadata=col.metas[p] if with_metadata else {},
                )
                for p in top
                if np.isfinite(scores[p])
            ]

    def count(self, collection: str) -> int:
        """Number of vectors in a collection."""
        with self._lock:
            col = self._collections.get(collection)
            return len(col.ids) if col else 0

    def reset(self, collection: str) -> None:
        """Drop a collection."""
        with self._lock:
            self._collections.pop(collection, None)
