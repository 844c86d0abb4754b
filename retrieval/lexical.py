"""The document catalog and BM25 index, in one SQLite file beside Chroma.

SQLite FTS5 gives BM25 ranking with per-column weights, transactional incremental
updates and deletes, and persistence, so the lexical index can never drift from the
catalog: both change in the same transaction.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.domain import Chunk, DocKind
from core.errors import StoreError
from retrieval.filters import SearchFilters, epoch
from retrieval.stopwords import STOPWORDS

KINDS: tuple[DocKind, ...] = ("case", "runbook")
_TOKEN = re.compile(r"[a-z0-9_]+")
# Long tickets produce long OR-queries; FTS5 cost grows with every term, and the
# rarest terms carry almost all of BM25's signal, so we keep the most distinctive ones.
MAX_QUERY_TERMS = 48

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


def query_terms(text: str, limit: int = MAX_QUERY_TERMS) -> list[str]:
    """Distinct, non-stopword terms of a query, longest (most specific) kept first when capped."""
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(text.lower()):
        if len(tok) > 1 and tok not in STOPWORDS and not tok.isdigit():
            seen.setdefault(tok, None)
    terms = list(seen)
    if len(terms) > limit:
        keep = set(sorted(terms, key=len, reverse=True)[:limit])
        terms = [t for t in terms if t in keep]
    return terms


class LexicalIndex:
    """Catalog of indexed documents plus FTS5 BM25 over their chunks."""

    name = "sqlite-fts5"

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
        for kind in KINDS:
            self._db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_{kind} USING fts5("
                "title, body, tokenize=\"porter unicode61 tokenchars '_'\")"
            )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # -- catalog ----------------------------------------------------------------
    def hashes(self, kind: DocKind, doc_ids: Iterable[str]) -> dict[str, str]:
        """Stored content hashes for those of doc_ids that are indexed."""
        ids = list(doc_ids)
        out: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT doc_id, content_hash FROM documents WHERE kind=? AND doc_id IN ({marks})",
                    (kind, *part),
                )
                out.update(dict(rows.fetchall()))
        return out

    def chunk_ids(self, kind: DocKind, doc_ids: Iterable[str]) -> list[str]:
        """Ids of every chunk the given documents currently have."""
        ids = list(doc_ids)
        out: list[str] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT chunk_id FROM chunks WHERE kind=? AND doc_id IN ({marks})",
                    (kind, *part),
                )
                out.extend(r[0] for r in rows)
        return out

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

    def count(self, kind: DocKind) -> int:
        """Number of documents of a kind."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM documents WHERE kind=?", (kind,)).fetchone()[0])

    def chunk_count(self, kind: DocKind) -> int:
        """Number of chunks of a kind."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM chunks WHERE kind=?", (kind,)).fetchone()[0])

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
                        doc_id=r[0], kind=r[1], content_hash=r[2], origin=r[3], title=r[4],
                        queue=r[5], product=r[6], status=r[7], created_at=r[8],
                        tags=tuple(tags.get(r[0], ())), signatures=tuple(sigs.get(r[0], ())),
                        payload=json.loads(r[9]),
                    )  # fmt: skip
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
        out: dict[str, Chunk] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), 500):
                part = list(chunk_ids[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT chunk_id, doc_id, ordinal, heading, text FROM chunks "
                    f"WHERE kind=? AND chunk_id IN ({marks})",
                    (kind, *part),
                )
                for cid, doc_id, ordinal, heading, text in rows:
                    path = heading.split(" > ") if heading else []
                    out[cid] = Chunk(
                        id=cid, doc_id=doc_id, kind=kind, ordinal=ordinal,
                        heading_path=path, text=text,
                    )  # fmt: skip
        return out

    # -- writes -----------------------------------------------------------------
    def upsert(self, records: Sequence[DocumentRecord], chunks: Sequence[Sequence[Chunk]]) -> None:
        """Replace documents, their chunks, tags, signatures and BM25 rows in one transaction."""
        if not records:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                by_kind: dict[str, list[str]] = {}
                for rec in records:
                    by_kind.setdefault(rec.kind, []).append(rec.doc_id)
                for kind, ids in by_kind.items():
                    self._delete_rows(kind, ids)
                for rec, doc_chunks in zip(records, chunks, strict=True):
                    self._insert(rec, doc_chunks)
                self._db.execute("COMMIT")
            except Exception as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index write failed: {exc}") from exc

    def delete(self, kind: DocKind, doc_ids: Sequence[str]) -> None:
        """Remove documents and everything indexed for them."""
        if not doc_ids:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._delete_rows(kind, list(doc_ids))
                self._db.execute("COMMIT")
            except Exception as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"lexical index delete failed: {exc}") from exc

    def _delete_rows(self, kind: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            args = (kind, *part)
            self._db.execute(
                f"DELETE FROM fts_{kind} WHERE rowid IN "
                f"(SELECT rowid FROM chunks WHERE kind=? AND doc_id IN ({marks}))",
                args,
            )
            for table in ("chunks", "doc_tags", "signatures", "documents"):
                self._db.execute(f"DELETE FROM {table} WHERE kind=? AND doc_id IN ({marks})", args)

    def _insert(self, rec: DocumentRecord, doc_chunks: Sequence[Chunk]) -> None:
        db = self._db
        db.execute(
            "INSERT INTO documents (doc_id, kind, content_hash, origin, title, queue, product, "
            "status, created_at, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (rec.doc_id, rec.kind, rec.content_hash, rec.origin, rec.title, rec.queue,
             rec.product, rec.status, rec.created_at, json.dumps(rec.payload, default=str)),
        )  # fmt: skip
        db.executemany(
            "INSERT OR IGNORE INTO doc_tags (kind, doc_id, tag) VALUES (?,?,?)",
            [(rec.kind, rec.doc_id, t) for t in rec.tags],
        )
        db.executemany(
            "INSERT OR IGNORE INTO signatures (kind, doc_id, signature) VALUES (?,?,?)",
            [(rec.kind, rec.doc_id, s) for s in rec.signatures],
        )
        for chunk in doc_chunks:
            cur = db.execute(
                "INSERT INTO chunks (chunk_id, kind, doc_id, ordinal, heading, text) "
                "VALUES (?,?,?,?,?,?)",
                (chunk.id, rec.kind, rec.doc_id, chunk.ordinal, chunk.heading, chunk.text),
            )
            # The title column carries the document title and the chunk's heading path, so
            # a BM25 column weight makes titles count more than body text.
            title = f"{rec.title} {chunk.heading}".strip()
            db.execute(
                f"INSERT INTO fts_{rec.kind} (rowid, title, body) VALUES (?,?,?)",
                (cur.lastrowid, title, chunk.text),
            )

    # -- search -----------------------------------------------------------------
    def search(
        self,
        kind: DocKind,
        text: str,
        k: int,
        filters: SearchFilters | None = None,
        exclude: Sequence[str] = (),
    ) -> list[LexicalHit]:
        """BM25 over chunks, best first; filters and exclusions apply to whole documents."""
        terms = query_terms(text)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        where, args = self._filter_sql(filters, exclude)
        sql = (
            f"SELECT c.chunk_id, c.doc_id, bm25(fts_{kind}, ?, 1.0) AS s FROM fts_{kind} "
            f"JOIN chunks c ON c.rowid = fts_{kind}.rowid "
            f"JOIN documents d ON d.kind = c.kind AND d.doc_id = c.doc_id "
            f"WHERE fts_{kind} MATCH ? {where} ORDER BY s LIMIT ?"
        )
        with self._lock:
            try:
                rows = self._db.execute(sql, (self.title_weight, match, *args, k)).fetchall()
            except sqlite3.OperationalError as exc:
                raise StoreError(f"lexical search failed: {exc}") from exc
        # FTS5's bm25() is negated so that ORDER BY ascending ranks best first.
        return [LexicalHit(chunk_id=r[0], doc_id=r[1], score=-float(r[2])) for r in rows]

    @staticmethod
    def _filter_sql(
        filters: SearchFilters | None, exclude: Sequence[str]
    ) -> tuple[str, list[Any]]:
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
        """Documents sharing signatures with the query: (doc_id, idf-weighted score, shared)."""
        sigs = list(dict.fromkeys(signatures))
        if not sigs:
            return []
        where, args = self._filter_sql(filters, exclude)
        marks = ",".join("?" * len(sigs))
        with self._lock:
            total = max(self.count(kind), 1)
            dfs = dict(
                self._db.execute(
                    f"SELECT signature, count(*) FROM signatures WHERE kind=? AND signature IN "
                    f"({marks}) GROUP BY signature",
                    (kind, *sigs),
                ).fetchall()
            )
            rows = self._db.execute(
                f"SELECT s.doc_id, s.signature FROM signatures s JOIN documents d ON "
                f"d.kind = s.kind AND d.doc_id = s.doc_id WHERE s.kind=? AND s.signature IN "
                f"({marks}) {where}",
                (kind, *sigs, *args),
            ).fetchall()
        scores: dict[str, float] = {}
        shared: dict[str, list[str]] = {}
        for doc_id, sig in rows:
            # Rare signatures identify a failure; ones most tickets carry (a bare HTTP 500) say little.
            idf = math.log(1 + total / dfs.get(sig, 1))
            scores[doc_id] = scores.get(doc_id, 0.0) + idf
            shared.setdefault(doc_id, []).append(sig)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [(doc_id, score, shared[doc_id]) for doc_id, score in ranked]
