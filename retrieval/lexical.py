"""The document catalog (SQLite, beside Chroma) and the BM25 index derived from it.

The catalog holds documents, content hashes, chunks, tags and signatures. The BM25 index
(`retrieval/bm25.py`) is rebuilt from the chunk table on first use and updated in step with
every write; a generation counter in the catalog tells when another process has written,
so every process searches what is committed.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.domain import Chunk, DocKind
from core.errors import StoreError
from retrieval.bm25 import BM25Index, SlotMeta, tokenize
from retrieval.filters import SearchFilters, epoch

KINDS: tuple[DocKind, ...] = ("case", "runbook")
MAX_SIGNATURE_SHARE = 0.05
MIN_SIGNATURE_DF_CAP = 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    queue TEXT, product TEXT, status TEXT,
    created_at INTEGER,
    payload TEXT NOT NULL,
    PRIMARY KEY (kind, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_origin ON documents(kind, origin);
CREATE INDEX IF NOT EXISTS documents_created ON documents(kind, created_at);
CREATE TABLE IF NOT EXISTS doc_tags (
    kind TEXT NOT NULL, doc_id TEXT NOT NULL, tag TEXT NOT NULL,
    PRIMARY KEY (kind, doc_id, tag)
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    heading TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    UNIQUE (kind, chunk_id)
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(kind, doc_id);
CREATE TABLE IF NOT EXISTS signatures (
    kind TEXT NOT NULL, doc_id TEXT NOT NULL, signature TEXT NOT NULL,
    PRIMARY KEY (kind, doc_id, signature)
);
CREATE INDEX IF NOT EXISTS signatures_sig ON signatures(kind, signature);
CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER);
INSERT OR IGNORE INTO generation (id, value) VALUES (1, 0);
"""


@dataclass(frozen=True)
class DocumentRecord:
    """What the catalog keeps of one document."""

    doc_id: str
    kind: DocKind
    content_hash: str
    origin: str
    title: str
    queue: str | None
    product: str | None
    status: str | None
    created_at: int | None
    tags: tuple[str, ...]
    signatures: tuple[str, ...]
    payload: dict[str, Any]


@dataclass(frozen=True)
class LexicalHit:
    """A chunk matched by BM25 (higher score is better)."""

    chunk_id: str
    doc_id: str
    score: float


def query_terms(text: str) -> list[str]:
    """Distinct BM25 terms of a query, in order of first occurrence."""
    return list(dict.fromkeys(tokenize(text)))


class LexicalIndex:
    """Catalog of indexed documents plus BM25 over their chunks."""

    name = "sqlite+bm25"

    def __init__(self, path: Path | str, *, title_weight: float = 2.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.title_weight = title_weight
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._bm25: dict[str, BM25Index] = {}
        self._masks: dict[str, _MaskArrays] = {}
        self._generation = -1

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # -- catalog ----------------------------------------------------------------
    def _select_in(self, sql: str, kind: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Run `sql` (kind=? first, then `IN ({marks})`) over ids in SQLite-sized batches."""
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                part = list(ids[start : start + 500])
                marks = ",".join("?" * len(part))
                rows.extend(self._db.execute(sql.format(marks=marks), (kind, *part)).fetchall())
        return rows

    def hashes(self, kind: DocKind, doc_ids: Iterable[str]) -> dict[str, str]:
        """Stored content hashes for those of doc_ids that are indexed."""
        sql = "SELECT doc_id, content_hash FROM documents WHERE kind=? AND doc_id IN ({marks})"
        return dict(self._select_in(sql, kind, list(doc_ids)))

    def chunk_ids(self, kind: DocKind, doc_ids: Iterable[str]) -> list[str]:
        """Ids of every chunk the given documents currently have."""
        sql = "SELECT chunk_id FROM chunks WHERE kind=? AND doc_id IN ({marks})"
        return [r[0] for r in self._select_in(sql, kind, list(doc_ids))]

    def doc_ids(self, kind: DocKind, origin: str | None = None) -> list[str]:
        """Every indexed document id of a kind, optionally only those from one origin."""
        with self._lock:
            if origin is None:
                rows = self._db.execute("SELECT doc_id FROM documents WHERE kind=?", (kind,))
            else:
                rows = self._db.execute(
                    "SELECT doc_id FROM documents WHERE kind=? AND origin=?", (kind, origin)
                )
            return [r[0] for r in rows]

    def latest_created(self, kind: DocKind) -> int | None:
        """Creation time (epoch seconds) of the newest document of a kind."""
        with self._lock:
            row = self._db.execute(
                "SELECT max(created_at) FROM documents WHERE kind=?", (kind,)
            ).fetchone()
            return None if row[0] is None else int(row[0])

    def distinct_queues(self) -> list[str]:
        """Queues that past cases were routed to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT queue FROM documents WHERE kind='case' AND queue IS NOT NULL "
                "ORDER BY queue"
            )
            return [r[0] for r in rows]

    def count(self, kind: DocKind) -> int:
        """Number of documents of a kind."""
        with self._lock:
            return int(
                self._db.execute("SELECT count(*) FROM documents WHERE kind=?", (kind,)).fetchone()[
                    0
                ]
            )

    def chunk_count(self, kind: DocKind) -> int:
        """Number of chunks of a kind."""
        with self._lock:
            return int(
                self._db.execute("SELECT count(*) FROM chunks WHERE kind=?", (kind,)).fetchone()[0]
            )

    def get(self, kind: DocKind, doc_id: str) -> DocumentRecord | None:
        """One document's catalog record, or None."""
        records = self.get_many(kind, [doc_id])
        return records.get(doc_id)

    def get_many(self, kind: DocKind, doc_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """Catalog records of the given documents that exist."""
        out: dict[str, DocumentRecord] = {}
        with self._lock:
            for start in range(0, len(doc_ids), 500):
                part = list(doc_ids[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT doc_id, kind, content_hash, origin, title, queue, product, status, "
                    f"created_at, payload FROM documents WHERE kind=? AND doc_id IN ({marks})",
                    (kind, *part),
                ).fetchall()
                tags = self._grouped("doc_tags", "tag", kind, part)
                sigs = self._grouped("signatures", "signature", kind, part)
                for r in rows:
                    out[r[0]] = DocumentRecord(
                        doc_id=r[0],
                        kind=r[1],
                        content_hash=r[2],
                        origin=r[3],
                        title=r[4],
                        queue=r[5],
                        product=r[6],
                        status=r[7],
                        created_at=r[8],
                        tags=tuple(tags.get(r[0], ())),
                        signatures=tuple(sigs.get(r[0], ())),
                        payload=json.loads(r[9]),
                    )
        return out

    def _grouped(self, table: str, column: str, kind: str, ids: list[str]) -> dict[str, list[str]]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT doc_id, {column} FROM {table} WHERE kind=? AND doc_id IN ({marks}) "
            f"ORDER BY rowid",
            (kind, *ids),
        )
        grouped: dict[str, list[str]] = {}
        for doc_id, value in rows:
            grouped.setdefault(doc_id, []).append(value)
        return grouped

    def chunks(self, kind: DocKind, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id."""
        sql = (
            "SELECT chunk_id, doc_id, ordinal, heading, text FROM chunks "
            "WHERE kind=? AND chunk_id IN ({marks})"
        )
        return {
            cid: Chunk(
                id=cid,
                doc_id=doc_id,
                kind=kind,
                ordinal=ordinal,
                heading_path=heading.split(" > ") if heading else [],
                text=text,
            )
            for cid, doc_id, ordinal, heading, text in self._select_in(sql, kind, chunk_ids)
        }

    # -- writes -----------------------------------------------------------------
    def upsert(self, records: Sequence[DocumentRecord], chunks: Sequence[Sequence[Chunk]]) -> None:
        """Replace documents with their chunks, tags and signatures in one transaction."""
        if not records:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                by_kind: dict[str, list[str]] = {}
                for rec in records:
                    by_kind.setdefault(rec.kind, []).append(rec.doc_id)
                removed = [
                    cid for kind, ids in by_kind.items() for cid in self._delete_rows(kind, ids)
                ]
                for rec, doc_chunks in zip(records, chunks, strict=True):
                    self._insert(rec, doc_chunks)
                self._bump_generation()
                self._db.execute("COMMIT")
            except Exception as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index write failed: {exc}") from exc
            self._apply(removed, list(zip(records, chunks, strict=True)))

    def delete(self, kind: DocKind, doc_ids: Sequence[str]) -> None:
        """Remove documents and everything indexed for them."""
        if not doc_ids:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                removed = self._delete_rows(kind, list(doc_ids))
                self._bump_generation()
                self._db.execute("COMMIT")
            except Exception as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index delete failed: {exc}") from exc
            self._apply(removed, [])

    def _bump_generation(self) -> None:
        self._db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    def _read_generation(self) -> int:
        return int(self._db.execute("SELECT value FROM generation WHERE id = 1").fetchone()[0])

    def _apply(
        self,
        removed: Sequence[tuple[str, str]],
        added: Sequence[tuple[DocumentRecord, Sequence[Chunk]]],
    ) -> None:
        """Mirror a committed write into the in-memory BM25 indexes that are built."""
        for kind, chunk_id in removed:
            if kind in self._bm25:
                self._bm25[kind].remove(chunk_id)
        for rec, doc_chunks in added:
            bm25 = self._bm25.get(rec.kind)
            if bm25 is not None:
                for chunk in doc_chunks:
                    bm25.add(_slot_meta(rec, chunk.id), f"{rec.title} {chunk.heading}", chunk.text)
        self._masks.clear()
        # Our own write: we are up to date unless someone else wrote in between, which the
        # next search notices (generation moved by more than our one step).
        if self._generation >= 0:
            self._generation += 1
        for kind, bm25 in list(self._bm25.items()):
            if bm25.tombstone_ratio() > 0.3:
                del self._bm25[kind]  # rebuilt compactly on next search

    def _delete_rows(self, kind: str, ids: list[str]) -> list[tuple[str, str]]:
        removed: list[tuple[str, str]] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            args = (kind, *part)
            rows = self._db.execute(
                f"SELECT chunk_id FROM chunks WHERE kind=? AND doc_id IN ({marks})", args
            )
            removed.extend((kind, r[0]) for r in rows)
            for table in ("chunks", "doc_tags", "signatures", "documents"):
                self._db.execute(f"DELETE FROM {table} WHERE kind=? AND doc_id IN ({marks})", args)
        return removed

    def _insert(self, rec: DocumentRecord, doc_chunks: Sequence[Chunk]) -> None:
        db = self._db
        db.execute(
            "INSERT INTO documents (doc_id, kind, content_hash, origin, title, queue, product, "
            "status, created_at, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                rec.doc_id,
                rec.kind,
                rec.content_hash,
                rec.origin,
                rec.title,
                rec.queue,
                rec.product,
                rec.status,
                rec.created_at,
                json.dumps(rec.payload, default=str),
            ),
        )
        db.executemany(
            "INSERT OR IGNORE INTO doc_tags (kind, doc_id, tag) VALUES (?,?,?)",
            [(rec.kind, rec.doc_id, t) for t in rec.tags],
        )
        db.executemany(
            "INSERT OR IGNORE INTO signatures (kind, doc_id, signature) VALUES (?,?,?)",
            [(rec.kind, rec.doc_id, s) for s in rec.signatures],
        )
        db.executemany(
            "INSERT INTO chunks (chunk_id, kind, doc_id, ordinal, heading, text) "
            "VALUES (?,?,?,?,?,?)",
            [(c.id, rec.kind, rec.doc_id, c.ordinal, c.heading, c.text) for c in doc_chunks],
        )

    # -- search -----------------------------------------------------------------
    def _index(self, kind: str) -> BM25Index:
        """The BM25 index of a kind, (re)built from the catalog when missing or stale."""
        generation = self._read_generation()
        if generation != self._generation:
            self._bm25.clear()
            self._masks.clear()
            self._generation = generation
        bm25 = self._bm25.get(kind)
        if bm25 is None:
            bm25 = BM25Index(title_weight=self.title_weight)
            rows = self._db.execute(
                "SELECT c.chunk_id, c.heading, c.text, d.doc_id, d.title, d.queue, d.product, "
                "d.status, d.created_at, (SELECT group_concat(tag, char(31)) FROM doc_tags t "
                "WHERE t.kind = d.kind AND t.doc_id = d.doc_id) "
                "FROM chunks c JOIN documents d ON d.kind = c.kind AND d.doc_id = c.doc_id "
                "WHERE c.kind = ? ORDER BY c.rowid",
                (kind,),
            )
            for cid, heading, text, doc_id, title, queue, product, status, created, tags in rows:
                meta = SlotMeta(
                    chunk_id=cid,
                    doc_id=doc_id,
                    queue=queue,
                    product=product,
                    status=status,
                    created_at=created,
                    tags=frozenset(tags.split("\x1f")) if tags else frozenset(),
                )
                bm25.add(meta, f"{title} {heading}", text)
            self._bm25[kind] = bm25
        return bm25

    def search(
        self,
        kind: DocKind,
        text: str,
        k: int,
        filters: SearchFilters | None = None,
        exclude: Sequence[str] = (),
    ) -> list[LexicalHit]:
        """BM25 over chunks, best first; filters and exclusions apply to whole documents."""
        with self._lock:
            try:
                bm25 = self._index(kind)
            except sqlite3.Error as exc:
                raise StoreError(f"lexical index unavailable: {exc}") from exc
            allowed = self._mask(kind, bm25, filters, exclude)
            hits = bm25.search(text, k, allowed)
        return [LexicalHit(chunk_id=m.chunk_id, doc_id=m.doc_id, score=s) for m, s in hits]

    def _mask(
        self,
        kind: str,
        bm25: BM25Index,
        filters: SearchFilters | None,
        exclude: Sequence[str],
    ) -> np.ndarray | None:
        if (filters is None or filters.is_empty()) and not exclude:
            return None
        arrays = self._masks.get(kind)
        if arrays is None or arrays.size != len(bm25.metas()):
            arrays = self._masks[kind] = _MaskArrays.build(bm25.metas())
        return arrays.mask(filters, exclude)

    @staticmethod
    def _filter_sql(filters: SearchFilters | None, exclude: Sequence[str]) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if filters is not None:
            for key in ("queue", "product", "status"):
                values = getattr(filters, key)
                if values:
                    clauses.append(f"d.{key} IN ({','.join('?' * len(values))})")
                    args.extend(values)
            for tag in filters.tags or []:
                clauses.append(
                    "EXISTS (SELECT 1 FROM doc_tags t WHERE t.kind=d.kind AND "
                    "t.doc_id=d.doc_id AND t.tag=?)"
                )
                args.append(tag)
            if filters.created_after is not None:
                clauses.append("d.created_at > ?")
                args.append(epoch(filters.created_after))
            if filters.created_before is not None:
                clauses.append("d.created_at < ?")
                args.append(epoch(filters.created_before))
        if exclude:
            clauses.append(f"d.doc_id NOT IN ({','.join('?' * len(exclude))})")
            args.extend(exclude)
        return "".join(f" AND {c}" for c in clauses), args

    def signature_matches(
        self,
        kind: DocKind,
        signatures: Sequence[str],
        k: int,
        filters: SearchFilters | None = None,
        exclude: Sequence[str] = (),
    ) -> list[tuple[str, float, list[str]]]:
        """Documents sharing signatures with the query: (doc_id, idf-weighted score, shared).

        Signatures carried by more than `MAX_SIGNATURE_SHARE` of documents are ignored: they
        cannot tell failures apart (a bare HTTP 500), and their long match lists dominate
        the cost. Scoring and ranking run inside SQLite.
        """
        sigs = list(dict.fromkeys(signatures))
        if not sigs:
            return []
        where, args = self._filter_sql(filters, exclude)
        with self._lock:
            total = max(self.count(kind), 1)
            marks = ",".join("?" * len(sigs))
            dfs = self._db.execute(
                f"SELECT signature, count(*) FROM signatures WHERE kind=? AND signature IN "
                f"({marks}) GROUP BY signature",
                (kind, *sigs),
            ).fetchall()
            limit = max(MIN_SIGNATURE_DF_CAP, MAX_SIGNATURE_SHARE * total)
            weights = [(sig, math.log(1 + total / df)) for sig, df in dfs if df <= limit]
            if not weights:
                return []
            values = ",".join("(?, ?)" for _ in weights)
            rows = self._db.execute(
                f"WITH w(signature, weight) AS (VALUES {values}) "
                f"SELECT s.doc_id, sum(w.weight) AS score, group_concat(s.signature, char(31)) "
                f"FROM signatures s JOIN w ON w.signature = s.signature "
                f"JOIN documents d ON d.kind = s.kind AND d.doc_id = s.doc_id "
                f"WHERE s.kind=? {where} GROUP BY s.doc_id ORDER BY score DESC, s.doc_id LIMIT ?",
                (*[x for pair in weights for x in pair], kind, *args, k),
            ).fetchall()
        return [(doc_id, float(score), shared.split("\x1f")) for doc_id, score, shared in rows]


def _slot_meta(rec: DocumentRecord, chunk_id: str) -> SlotMeta:
    return SlotMeta(
        chunk_id=chunk_id,
        doc_id=rec.doc_id,
        queue=rec.queue,
        product=rec.product,
        status=rec.status,
        created_at=rec.created_at,
        tags=frozenset(rec.tags),
    )


class _MaskArrays:
    """Column arrays of slot metadata, so a filter is a few vectorised comparisons."""

    def __init__(self, metas: Sequence[SlotMeta | None]) -> None:
        self.size = len(metas)
        self.live = np.array([m is not None for m in metas], dtype=bool)
        self.doc_id = np.array([m.doc_id if m else "" for m in metas], dtype=object)
        self.created = np.array(
            [m.created_at if m and m.created_at is not None else -(2**62) for m in metas],
            dtype=np.int64,
        )
        self.fields = {
            key: np.array([getattr(m, key) if m else None for m in metas], dtype=object)
            for key in ("queue", "product", "status")
        }
        self.tags = [m.tags if m else frozenset() for m in metas]

    @classmethod
    def build(cls, metas: Sequence[SlotMeta | None]) -> _MaskArrays:
        """Arrays for the current slots."""
        return cls(metas)

    def mask(self, filters: SearchFilters | None, exclude: Sequence[str]) -> np.ndarray:
        """Boolean mask of slots passing the filters and not excluded."""
        keep = self.live.copy()
        if filters is not None:
            for key, column in self.fields.items():
                values = getattr(filters, key)
                if values:
                    keep &= np.isin(column, list(values))
            if filters.tags:
                wanted = set(filters.tags)
                keep &= np.fromiter((wanted <= t for t in self.tags), bool, self.size)
            has_date = self.created > -(2**62)
            if filters.created_after is not None:
                keep &= has_date & (self.created > epoch(filters.created_after))
            if filters.created_before is not None:
                keep &= has_date & (self.created < epoch(filters.created_before))
        if exclude:
            keep &= ~np.isin(self.doc_id, list(exclude))
        return keep
