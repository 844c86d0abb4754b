"""The knowledge index: keeps the vector store and the lexical catalog in step."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.domain import Case, Chunk, DocKind, Runbook
from core.errors import NotFound, RetrievalError
from retrieval.filters import epoch, tag_key
from retrieval.lexical import DocumentRecord, LexicalIndex
from retrieval.protocols import Embedder, MetadataValue, VectorStore, query_vector

Progress = Callable[[int], None]
QUERY_CACHE_SIZE = 64
EMBED_BATCH = 256  # texts per embedder call: progress and store writes follow each
COLLECTIONS: dict[DocKind, str] = {"case": "cases", "runbook": "runbooks"}


@dataclass
class UpsertResult:
    """What an upsert did: documents added, updated (re-embedded) and left unchanged."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded_chunks: int = 0


def doc_id_of(chunk_id: str) -> str:
    """The document a chunk id belongs to: chunk ids are "<doc_id>#<ordinal>"."""
    return chunk_id.rpartition("#")[0]


def case_chunk(case: Case) -> Chunk:
    """A case is searched as one chunk: its title and body (embedders truncate long bodies)."""
    return Chunk(id=f"{case.id}#0", doc_id=case.id, kind="case", text=case.text)


def case_record(case: Case, origin: str = "") -> DocumentRecord:
    """Catalog record of a case."""
    return DocumentRecord(
        doc_id=case.id,
        kind="case",
        content_hash=case.content_hash(),
        origin=origin,
        title=case.title,
        queue=case.queue,
        product=case.product,
        status=case.status,
        created_at=epoch(case.created_at),
        tags=tuple(case.tags),
        signatures=tuple(case.error_signatures),
        payload=case.model_dump(mode="json"),
    )


def runbook_record(runbook: Runbook, origin: str = "") -> DocumentRecord:
    """Catalog record of a runbook."""
    return DocumentRecord(
        doc_id=runbook.id,
        kind="runbook",
        content_hash=runbook.content_hash(),
        origin=origin,
        title=runbook.title,
        queue=None,
        product=runbook.product,
        status=None,
        created_at=epoch(runbook.updated_at) if runbook.updated_at else None,
        tags=tuple(runbook.tags),
        signatures=tuple(runbook.metadata.get("signatures", ())),
        payload=runbook.model_dump(mode="json"),
    )


def _vector_metadata(rec: DocumentRecord, chunk: Chunk) -> dict[str, MetadataValue]:
    meta: dict[str, MetadataValue] = {"doc_id": rec.doc_id, "ordinal": chunk.ordinal}
    for key in ("queue", "product", "status", "created_at"):
        value = getattr(rec, key)
        if value is not None:  # Chroma rejects None metadata values
            meta[key] = value
    for tag in rec.tags:
        meta[tag_key(tag)] = True
    return meta


class KnowledgeIndex:
    """Past cases and runbooks, indexed densely (vector store) and lexically (BM25)."""

    def __init__(self, embedder: Embedder, store: VectorStore, lexical: LexicalIndex) -> None:
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- writes -----------------------------------------------------------------
    def upsert_cases(
        self, cases: Sequence[Case], *, origin: str = "", progress: Progress | None = None
    ) -> UpsertResult:
        """Index cases; unchanged ones (same content hash) cost nothing."""
        items = [(case_record(c, origin), [case_chunk(c)]) for c in cases]
        return self._upsert("case", items, progress)

    def upsert_runbooks(
        self,
        runbooks: Sequence[tuple[Runbook, Sequence[Chunk]]],
        *,
        origin: str = "",
        progress: Progress | None = None,
    ) -> UpsertResult:
        """Index runbooks with their chunks; unchanged ones cost nothing."""
        items = [(runbook_record(rb, origin), list(chunks)) for rb, chunks in runbooks]
        return self._upsert("runbook", items, progress)

    def _upsert(
        self,
        kind: DocKind,
        items: Sequence[tuple[DocumentRecord, list[Chunk]]],
        progress: Progress | None,
    ) -> UpsertResult:
        result = UpsertResult()
        # The last record wins when a batch names one document twice.
        latest = {rec.doc_id: (rec, chunks) for rec, chunks in items}
        stored = self.lexical.hashes(kind, latest)
        changed: list[tuple[DocumentRecord, list[Chunk]]] = []
        for doc_id, (rec, chunks) in latest.items():
            if stored.get(doc_id) == rec.content_hash:
                result.unchanged.append(doc_id)
                continue
            (result.updated if doc_id in stored else result.added).append(doc_id)
            changed.append((rec, chunks))
        if progress and result.unchanged:
            progress(len(result.unchanged))
        if not changed:
            return result
        old_chunk_ids = set(self.lexical.chunk_ids(kind, [r.doc_id for r, _ in changed]))
        entries = [(rec, chunk) for rec, chunks in changed for chunk in chunks]
        for rec, chunk in entries:
            # Searches map vector hits to documents by id alone (no metadata read back).
            if doc_id_of(chunk.id) != rec.doc_id or chunk.doc_id != rec.doc_id:
                raise RetrievalError(
                    f"chunk id {chunk.id!r} must be '{rec.doc_id}#<ordinal>'",
                    chunk_id=chunk.id,
                    doc_id=rec.doc_id,
                )
        # Shortest first across the whole upsert, not per embedding call: each batch then
        # holds texts of nearly one length and the model pads almost nothing (measured in
        # benchmarks/ingest_search_speed.py).
        entries.sort(key=lambda e: len(e[1].text))
        ids = [chunk.id for _, chunk in entries]
        chunks_left = Counter(rec.doc_id for rec, _ in entries)
        # Vectors first, catalog last: the catalog's content hash is the commit marker, so
        # a crash in between leaves the document "changed" and the next run redoes it.
        # Each batch is written to the store on a second thread while the next one embeds.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-write") as writer:
            pending: Future[None] | None = None
            for start in range(0, len(entries), EMBED_BATCH):
                block = entries[start : start + EMBED_BATCH]
                vectors = self.embedder.embed([chunk.text for _, chunk in block])
                if pending is not None:
                    pending.result()
                pending = writer.submit(
                    self.store.upsert,
                    COLLECTIONS[kind],
                    [chunk.id for _, chunk in block],
                    vectors,
                    [_vector_metadata(rec, chunk) for rec, chunk in block],
                )
                if progress:
                    finished = 0
                    for rec, _ in block:
                        chunks_left[rec.doc_id] -= 1
                        finished += chunks_left[rec.doc_id] == 0
                    progress(finished)
            if pending is not None:
                pending.result()
        stale = sorted(old_chunk_ids - set(ids))
        if stale:
            self.store.delete(COLLECTIONS[kind], stale)
        self.lexical.upsert([r for r, _ in changed], [c for _, c in changed])
        result.embedded_chunks = len(entries)
        return result

    def delete(self, kind: DocKind, doc_ids: Sequence[str]) -> int:
        """Remove documents from every index; returns how many existed."""
        existing = list(self.lexical.hashes(kind, doc_ids))
        if not existing:
            return 0
        self.store.delete(COLLECTIONS[kind], self.lexical.chunk_ids(kind, existing))
        self.lexical.delete(kind, existing)
        return len(existing)

    def sync(self, kind: DocKind, origin: str, keep: set[str]) -> list[str]:
        """Delete documents of an origin that its source no longer has; returns their ids."""
        gone = [d for d in self.lexical.doc_ids(kind, origin) if d not in keep]
        self.delete(kind, gone)
        return gone

    # -- reads ------------------------------------------------------------------
    def get_case(self, case_id: str) -> Case:
        """A stored case by id."""
        rec = self.lexical.get("case", case_id)
        if rec is None:
            raise NotFound(f"case {case_id!r} is not indexed", case_id=case_id)
        return Case.model_validate(rec.payload)

    def get_runbook(self, runbook_id: str) -> Runbook:
        """A stored runbook by id."""
        rec = self.lexical.get("runbook", runbook_id)
        if rec is None:
            raise NotFound(f"runbook {runbook_id!r} is not indexed", runbook_id=runbook_id)
        return Runbook.model_validate(rec.payload)

    def iter_cases(self) -> Iterator[Case]:
        """Every indexed case (for training the router on past cases)."""
        ids = self.lexical.doc_ids("case")
        for start in range(0, len(ids), 1000):
            records = self.lexical.get_many("case", ids[start : start + 1000])
            for rec in records.values():
                yield Case.model_validate(rec.payload)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query text; recent queries are remembered (triage searches twice)."""
        with self._cache_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector = query_vector(self.embedder, text)
        with self._cache_lock:
            self._query_cache[text] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    def clear_query_cache(self) -> None:
        """Forget remembered query vectors (after the embedder's query settings change)."""
        with self._cache_lock:
            self._query_cache.clear()

    def stats(self) -> dict[str, Any]:
        """Counts per kind in both indexes, and the backends in use."""
        out: dict[str, Any] = {
            "embedder": self.embedder.name,
            "vector_store": self.store.name,
            "lexical": self.lexical.name,
        }
        for kind, collection in COLLECTIONS.items():
            out[collection] = {
                "documents": self.lexical.count(kind),
                "chunks": self.lexical.chunk_count(kind),
                "vectors": self.store.count(collection),
            }
        return out
