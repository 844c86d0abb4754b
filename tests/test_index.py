"""The knowledge index: idempotent upserts, replacement, deletion, sync, persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.domain import Case, Chunk, Runbook
from core.errors import ConfigError, NotFound, RetrievalError, StoreError
from retrieval.chroma_store import ChromaVectorStore
from retrieval.filters import SearchFilters
from retrieval.index import EMBED_BATCH, KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.search import HybridSearcher, SearchQuery
from tests.fakes import HashingEmbedder


def _case(i: int, title: str, body: str = "", **kw: object) -> Case:
    return Case(
        id=f"c{i}",
        title=title,
        body=body,
        created_at=datetime(2026, 1, 1 + i, tzinfo=UTC),
        **kw,  # type: ignore[arg-type]
    )


CASES = [
    _case(
        1,
        "Webhook signature invalid",
        "webhook_signature_invalid after rotating secret",
        queue="integrations",
        error_signatures=["code:webhook_signature_invalid"],
    ),
    _case(
        2,
        "Card declined for all EU cards",
        "card_declined insufficient_funds",
        queue="payments-api",
    ),
    _case(3, "Export job timeout", "ExportJobTimeout on monthly report", queue="data-platform"),
    _case(
        4,
        "Webhooks failing since rotation",
        "signature mismatch on webhook endpoint",
        queue="integrations",
        error_signatures=["code:webhook_signature_invalid"],
    ),
]


def _index(tmp_path: Path, store: object | None = None) -> tuple[KnowledgeIndex, HashingEmbedder]:
    emb = HashingEmbedder()
    index = KnowledgeIndex(
        emb,
        store or MemoryVectorStore(),
        LexicalIndex(tmp_path / "lex.sqlite3"),  # type: ignore[arg-type]
    )
    return index, emb


def test_reingest_unchanged_costs_nothing(tmp_path: Path) -> None:
    index, emb = _index(tmp_path)
    first = index.upsert_cases(CASES)
    assert sorted(first.added) == ["c1", "c2", "c3", "c4"] and first.embedded_chunks == 4
    calls = emb.texts_embedded
    again = index.upsert_cases(CASES)
    assert sorted(again.unchanged) == ["c1", "c2", "c3", "c4"]
    assert again.added == again.updated == [] and emb.texts_embedded == calls


def test_changed_document_replaces_its_chunks(tmp_path: Path) -> None:
    index, _ = _index(tmp_path)
    rb = Runbook(id="rb/webhooks", title="Webhooks", body="x")
    chunks = [
        Chunk(
            id=f"rb/webhooks#{i}",
            doc_id="rb/webhooks",
            kind="runbook",
            ordinal=i,
            heading_path=["Webhooks", h],
            text=f"Webhooks > {h}\n\n{t}",
        )
        for i, (h, t) in enumerate(
            [
                ("Symptoms", "signature invalid"),
                ("Diagnosis", "check the secret"),
                ("Resolution", "rotate the signing secret"),
            ]
        )
    ]
    index.upsert_runbooks([(rb, chunks)])
    assert index.store.count("runbooks") == 3
    rb2 = rb.model_copy(update={"body": "y"})
    res = index.upsert_runbooks([(rb2, chunks[:1])])
    assert res.updated == ["rb/webhooks"]
    assert index.store.count("runbooks") == 1 and index.lexical.chunk_count("runbook") == 1
    lex = index.lexical.search("runbook", "rotate signing secret", 10)
    assert lex == []  # the removed chunk is gone from BM25 too


def test_delete_and_sync_remove_from_every_index(tmp_path: Path) -> None:
    index, _ = _index(tmp_path)
    index.upsert_cases(CASES[:2], origin="a.jsonl")
    index.upsert_cases(CASES[2:], origin="b.jsonl")
    gone = index.sync("case", "a.jsonl", keep={"c1"})
    assert gone == ["c2"]
    assert index.lexical.count("case") == 3 and index.store.count("cases") == 3
    with pytest.raises(NotFound):
        index.get_case("c2")
    assert index.delete("case", ["c3", "nope"]) == 1
    assert index.store.count("cases") == 2
    assert index.lexical.signature_matches("case", ["code:webhook_signature_invalid"], 10)


def test_hybrid_search_explains_and_filters(tmp_path: Path) -> None:
    index, _ = _index(tmp_path)
    index.upsert_cases(CASES)
    searcher = HybridSearcher(index, signature_extractor=lambda t: [])
    hits = searcher.search(
        SearchQuery(text="webhook signature invalid", signatures=["code:webhook_signature_invalid"])
    )
    assert hits[0].doc_id == "c1"
    top = hits[0].explanation
    assert top.dense_rank == 1 and top.bm25_rank == 1
    assert "webhook" in top.bm25_terms and top.shared_signatures == [
        "code:webhook_signature_invalid"
    ]
    only = searcher.search(
        SearchQuery(text="webhook", filters=SearchFilters(queue=["payments-api"]))
    )
    assert {h.doc_id for h in only} <= {"c2"}
    similar = searcher.similar_cases("c4", before_creation=True)
    assert similar[0].doc_id == "c1" and all(h.doc_id != "c4" for h in similar)
    assert all(h.created_at and h.created_at < CASES[3].created_at for h in similar)


def test_restart_keeps_everything(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    store = ChromaVectorStore(emb, mode="embedded", path=tmp_path / "chroma")
    index = KnowledgeIndex(emb, store, LexicalIndex(tmp_path / "lex.sqlite3"))
    index.upsert_cases(CASES)
    index.lexical.close()
    del index, store

    store2 = ChromaVectorStore(emb, mode="embedded", path=tmp_path / "chroma")
    index2 = KnowledgeIndex(emb, store2, LexicalIndex(tmp_path / "lex.sqlite3"))
    assert index2.stats()["cases"] == {"documents": 4, "chunks": 4, "vectors": 4}
    assert index2.upsert_cases(CASES).embedded_chunks == 0
    hits = HybridSearcher(index2).search(SearchQuery(text="export job timeout"))
    assert hits[0].doc_id == "c3"
    # The collection reopens with Casebook's registered embedding function, never Chroma's
    # default (which would download a model).
    col = store2._get_client().get_collection("casebook-cases")
    ef = col.configuration["embedding_function"]
    assert type(ef).__name__ == "CasebookEmbeddingFunction"
    assert ef.get_config() == {"model": "fake/hashing-64"}


def test_embedding_model_mismatch_is_refused(tmp_path: Path) -> None:
    store = ChromaVectorStore(HashingEmbedder(), mode="embedded", path=tmp_path / "chroma")
    index = KnowledgeIndex(store.embedder, store, LexicalIndex(tmp_path / "lex.sqlite3"))
    index.upsert_cases(CASES[:1])
    other = ChromaVectorStore(
        HashingEmbedder(name="fake/other"), mode="embedded", path=tmp_path / "chroma"
    )
    with pytest.raises(ConfigError, match="re-ingest"):
        other.count("cases")


def test_reopened_collection_embeds_queries_with_casebook_model(tmp_path: Path) -> None:
    """A client that only knows the collection name gets the bundled model, not Chroma's."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from retrieval.embedding import OnnxMiniLMEmbedder

    emb = OnnxMiniLMEmbedder()
    store = ChromaVectorStore(emb, mode="embedded", path=tmp_path / "chroma")
    index = KnowledgeIndex(emb, store, LexicalIndex(tmp_path / "lex.sqlite3"))
    index.upsert_cases(CASES)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
    )
    col = client.get_collection("casebook-cases")
    res = col.query(query_texts=["export job timed out"], n_results=1)
    assert res["ids"][0] == ["c3#0"]


class _RecordingEmbedder(HashingEmbedder):
    """Remembers every batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed(texts)


def _varied_cases(n: int) -> list[Case]:
    # Lengths in a scrambled order, so sorting is visible.
    return [
        Case(
            id=f"v{i}",
            title=f"case {i}",
            body="word " * ((i * 37) % 101),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for i in range(n)
    ]


def test_upsert_embeds_texts_sorted_by_length_across_the_whole_call(tmp_path: Path) -> None:
    emb = _RecordingEmbedder()
    index = KnowledgeIndex(emb, MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3"))
    progress: list[int] = []
    result = index.upsert_cases(_varied_cases(EMBED_BATCH * 2 + 7), progress=progress.append)
    lengths = [len(t) for batch in emb.batches for t in batch]
    assert len(emb.batches) == 3 and lengths == sorted(lengths)
    assert len(result.added) == sum(progress) == EMBED_BATCH * 2 + 7
    # Every vector went to the store under its own id, whatever order it was embedded in.
    case = index.get_case("v5")
    hit = index.store.query("cases", emb.embed([case.text])[0], 1)[0]
    assert hit.id == "v5#0" and hit.score == pytest.approx(1.0, abs=1e-5)


def test_multi_chunk_documents_count_once_in_progress(tmp_path: Path) -> None:
    index, _ = _index(tmp_path)
    items = []
    for d in range(3):
        rb = Runbook(id=f"rb{d}", title=f"Runbook {d}", body="x")
        chunks = [
            Chunk(id=f"rb{d}#{i}", doc_id=f"rb{d}", kind="runbook", ordinal=i, text="t " * i * d)
            for i in range(4)
        ]
        items.append((rb, chunks))
    progress: list[int] = []
    index.upsert_runbooks(items, progress=progress.append)
    assert sum(progress) == 3 and index.store.count("runbooks") == 12


class _FailingStore(MemoryVectorStore):
    """Fails the second write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def upsert(self, collection: str, ids: Sequence[str], vectors: Any, metadatas: Any) -> None:
        self.writes += 1
        if self.writes == 2:
            raise StoreError("disk full")
        super().upsert(collection, ids, vectors, metadatas)


def test_a_failed_background_write_fails_the_upsert_and_commits_nothing(tmp_path: Path) -> None:
    index = KnowledgeIndex(
        HashingEmbedder(), _FailingStore(), LexicalIndex(tmp_path / "lex.sqlite3")
    )
    with pytest.raises(StoreError, match="disk full"):
        index.upsert_cases(_varied_cases(EMBED_BATCH * 3))
    # The catalog is the commit marker: nothing is recorded, so a rerun redoes everything.
    assert index.lexical.count("case") == 0
    index.store.writes = 10  # type: ignore[attr-defined]
    assert len(index.upsert_cases(_varied_cases(EMBED_BATCH * 3)).added) == EMBED_BATCH * 3


class _QueryAwareEmbedder(HashingEmbedder):
    """Embeds queries from their first word only, so the index's choice is visible."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self.embed([text.split()[0]])[0]


def test_queries_go_through_embed_query_when_the_embedder_has_it(tmp_path: Path) -> None:
    emb = _QueryAwareEmbedder()
    index = KnowledgeIndex(emb, MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3"))
    index.upsert_cases(CASES)
    vector = index.embed_query("Export job timeout on the monthly report")
    assert emb.queries == ["Export job timeout on the monthly report"]
    np.testing.assert_allclose(vector, emb.embed(["Export"])[0])
    hits = HybridSearcher(index).search(SearchQuery(text="webhook signature", mode="dense"))
    assert emb.queries[-1] == "webhook signature"
    first_word = emb.embed(["webhook"])[0]
    best = max(float(first_word @ emb.embed([c.text])[0]) for c in CASES)
    assert hits[0].explanation.dense_score == pytest.approx(best, abs=1e-5)
    # A plain embedder embeds the query like a document.
    plain, _ = _index(tmp_path / "plain")
    np.testing.assert_allclose(plain.embed_query("a b"), HashingEmbedder().embed(["a b"])[0])


def test_chunk_ids_must_name_their_document(tmp_path: Path) -> None:
    index, _ = _index(tmp_path)
    rb = Runbook(id="team#ops/etcd", title="etcd", body="x")
    good = Chunk(id="team#ops/etcd#0", doc_id=rb.id, kind="runbook", text="etcd member health")
    index.upsert_runbooks([(rb, [good])])
    # A '#' inside a document id is fine: the ordinal is after the last one.
    hits = HybridSearcher(index).search(SearchQuery(text="etcd member", kind="runbook"))
    assert hits[0].doc_id == "team#ops/etcd"
    for bad_id, bad_doc in (("etcd#0", rb.id), ("team#ops/etcd#0", "other")):
        bad = Chunk(id=bad_id, doc_id=bad_doc, kind="runbook", text="t")
        with pytest.raises(RetrievalError, match="must be"):
            index.upsert_runbooks([(rb.model_copy(update={"body": "y"}), [bad])])
    assert index.get_runbook(rb.id).body == "x"  # the failed upsert changed nothing
