"""Chroma as the vector store: embedded PersistentClient or HttpClient to a Chroma server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from core.errors import ConfigError, StoreError
from retrieval.filters import SearchFilters, epoch, tag_key
from retrieval.protocols import Embedder, MetadataValue, VectorHit


def _embedding_function_class() -> type:
    """Build and register Casebook's Chroma embedding function (once, on first use)."""
    global _EF_CLASS
    if _EF_CLASS is not None:
        return _EF_CLASS
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class CasebookEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma adapter over a Casebook Embedder.

        Registered by name so a collection reopened after a restart (or by another client
        of the same server) rebuilds this function instead of Chroma's default, which
        would download a model.
        """

        def __init__(self, embedder: Embedder | None = None, model: str = "") -> None:
            self._embedder = embedder
            self._model = embedder.name if embedder is not None else model

        def __call__(self, input: Documents) -> Embeddings:
            return cast(Embeddings, list(self._get().embed(list(input))))

        def _get(self) -> Embedder:
            if self._embedder is None:
                from retrieval.embedding import embedder_for_model

                self._embedder = embedder_for_model(self._model)
            return self._embedder

        @staticmethod
        def name() -> str:
            return "casebook"

        def get_config(self) -> dict[str, Any]:
            return {"model": self._model}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> CasebookEmbeddingFunction:
            return CasebookEmbeddingFunction(model=str(config.get("model", "")))

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

        def supported_spaces(self) -> list[str]:  # type: ignore[override]
            return ["cosine"]

        def is_legacy(self) -> bool:
            return False

    register_embedding_function(CasebookEmbeddingFunction)
    _EF_CLASS = CasebookEmbeddingFunction
    return _EF_CLASS


_EF_CLASS: type | None = None


def chroma_where(filters: SearchFilters | None) -> dict[str, Any] | None:
    """Translate SearchFilters into a Chroma `where` clause."""
    if filters is None or filters.is_empty():
        return None
    clauses: list[dict[str, Any]] = []
    for key in ("queue", "product", "status"):
        values = getattr(filters, key)
        if values:
            clauses.append({key: {"$in": list(values)}})
    for tag in filters.tags or []:
        clauses.append({tag_key(tag): True})
    if filters.created_after is not None:
        clauses.append({"created_at": {"$gt": epoch(filters.created_after)}})
    if filters.created_before is not None:
        clauses.append({"created_at": {"$lt": epoch(filters.created_before)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaVectorStore:
    """Chroma collections holding Casebook's vectors, one per document kind."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        mode: str = "embedded",
        path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        prefix: str = "casebook",
    ) -> None:
        self.embedder = embedder
        self.mode = mode
        self.name = f"chroma-{mode}"
        self._path = path
        self._host, self._port = host, port
        self._prefix = prefix
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _get_client(self) -> Any:
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            # Telemetry off: nothing leaves the machine but what the user configured.
            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
            try:
                if self.mode == "embedded":
                    if self._path is None:
                        raise ConfigError("embedded Chroma needs a data path")
                    self._path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(self._path), settings=chroma_settings
                    )
                elif self.mode == "http":
                    self._client = chromadb.HttpClient(
                        host=self._host, port=self._port, settings=chroma_settings
                    )
                else:
                    raise ConfigError(f"unknown Chroma mode {self.mode!r}")
            except ConfigError:
                raise
            except Exception as exc:
                raise StoreError(f"cannot open Chroma ({self.mode}): {exc}") from exc
        return self._client

    def _collection(self, name: str, create: bool = True) -> Any:
        with self._lock:
            if name in self._collections:
                return self._collections[name]
            client = self._get_client()
            full = f"{self._prefix}-{name}"
            ef_class = _embedding_function_class()
            try:
                if create:
                    col = client.get_or_create_collection(
                        full,
                        embedding_function=ef_class(self.embedder),
                        configuration={"hnsw": {"space": "cosine"}},
                        metadata={"embedding_model": self.embedder.name},
                    )
                else:
                    col = client.get_collection(full, embedding_function=ef_class(self.embedder))
            except Exception as exc:
                if not create:
                    return None
                raise StoreError(f"cannot open Chroma collection {full}: {exc}") from exc
            stored = (col.metadata or {}).get("embedding_model")
            if stored and stored != self.embedder.name:
                raise ConfigError(
                    f"collection {full} holds vectors of {stored!r}, but the configured "
                    f"embedding model is {self.embedder.name!r}; re-ingest into a new data "
                    "directory or change CASEBOOK_EMBEDDING_MODEL back"
                )
            self._collections[name] = col
            return col

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, MetadataValue]],
    ) -> None:
        """Insert or replace vectors by id, in Chroma-sized batches."""
        if len(ids) == 0:
            return
        col = self._collection(collection)
        batch = max(1, min(int(self._get_client().get_max_batch_size()), 4096))
        try:
            for start in range(0, len(ids), batch):
                col.upsert(
                    ids=list(ids[start : start + batch]),
                    embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32),
                    metadatas=[dict(m) for m in metadatas[start : start + batch]],
                )
        except Exception as exc:
            raise StoreError(f"Chroma upsert failed: {exc}") from exc

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove vectors by id; unknown ids are ignored."""
        if len(ids) == 0:
            return
        col = self._collection(collection, create=False)
        if col is None:
            return
        try:
            for start in range(0, len(ids), 4096):
                col.delete(ids=list(ids[start : start + 4096]))
        except Exception as exc:
            raise StoreError(f"Chroma delete failed: {exc}") from exc

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        *,
        with_metadata: bool = True,
    ) -> list[VectorHit]:
        """The k nearest vectors passing the filters; score is cosine similarity."""
        col = self._collection(collection)
        if k <= 0:
            return []
        try:
            res = col.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=k,
                where=chroma_where(filters),
                include=["metadatas", "distances"] if with_metadata else ["distances"],
            )
        except Exception as exc:
            raise StoreError(f"Chroma query failed: {exc}") from exc
        ids = res["ids"][0]
        dists = res["distances"][0]
        metas = res["metadatas"][0] if with_metadata else [None] * len(ids)
        return [
            VectorHit(id=i, score=1.0 - float(d), metadata=m or {})
            for i, d, m in zip(ids, dists, metas, strict=True)
        ]

    def count(self, collection: str) -> int:
        """Number of vectors in a collection."""
        col = self._collection(collection, create=False)
        return int(col.count()) if col is not None else 0

    def reset(self, collection: str) -> None:
        """Drop a collection."""
        with self._lock:
            self._collections.pop(collection, None)
            # Deleting a collection that is not there is not an error.
            with contextlib.suppress(Exception):
                self._get_client().delete_collection(f"{self._prefix}-{collection}")
