"""The knowledge index: idempotent upserts, replacement, deletion, sync, persistence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.domain import Case, Chunk, Runbook
from core.errors import ConfigError, NotFound
from retrieval.chroma_store import ChromaVectorStore
from retrieval.filters import SearchFilters
from retrieval.index import KnowledgeIndex
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
