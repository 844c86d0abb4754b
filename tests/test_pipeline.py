"""The ingest pipeline end to end: redaction before storage, signatures, malformed records, sync."""

from __future__ import annotations

import json
from pathlib import Path

from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from kb_ingest.pipeline import Ingestor
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.search import HybridSearcher, SearchQuery
from tests.fakes import HashingEmbedder


class RecordingEmbedder(HashingEmbedder):
    """Remembers every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return super().embed(texts)


def _ingestor(tmp_path: Path) -> tuple[Ingestor, RecordingEmbedder]:
    emb = RecordingEmbedder()
    index = KnowledgeIndex(emb, MemoryVectorStore(), LexicalIndex(tmp_path / "lex.sqlite3"))
    return Ingestor(
        index, redactor=Redactor(), counter=TokenCounter(), max_tokens=64, overlap_tokens=8
    ), emb


def _write_cases(path: Path, rows: list[object]) -> None:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
        encoding="utf-8",
    )


CASE_1 = {
    "id": "T-1",
    "title": "Refunds fail with HTTP 500",
    "body": "Contact jane.doe@example.com. POST /v1/refunds returned 500 Internal Server Error\n"
    "java.lang.NullPointerException\n"
    "  at com.ledger.refunds.RefundService.apply(RefundService.java:88)",
    "created_at": "2026-03-01T10:00:00Z",
    "queue": "payments-api",
}
CASE_2 = {
    "id": "T-2",
    "title": "Refund errors",
    "created_at": "2026-03-02T10:00:00Z",
    "body": "Since today refunds 500. java.lang.NullPointerException at "
    "com.ledger.refunds.RefundService.apply(RefundService.java:91) card 4242 4242 4242 4242",
}


def test_cases_are_redacted_before_storage_and_embedding(tmp_path: Path) -> None:
    ingestor, emb = _ingestor(tmp_path)
    src = tmp_path / "cases.jsonl"
    _write_cases(src, [CASE_1, CASE_2])
    report = ingestor.ingest_cases(src)
    assert report.added == 2 and report.redactions["email"] == 1 and report.redactions["card"] == 1
    stored = ingestor.index.get_case("T-1")
    assert "jane.doe@example.com" not in stored.body and "[EMAIL]" in stored.body
    assert all("jane.doe" not in t and "4242 4242" not in t for t in emb.seen)
    raw = (tmp_path / "lex.sqlite3").read_bytes()
    assert b"jane.doe@example.com" not in raw


def test_signatures_are_extracted_stored_and_matched(tmp_path: Path) -> None:
    ingestor, _ = _ingestor(tmp_path)
    src = tmp_path / "cases.jsonl"
    _write_cases(src, [CASE_1, CASE_2])
    ingestor.ingest_cases(src)
    one, two = ingestor.index.get_case("T-1"), ingestor.index.get_case("T-2")
    shared = set(one.error_signatures) & set(two.error_signatures)
    assert any(s.startswith("exc:") for s in shared)
    hits = HybridSearcher(ingestor.index).similar_cases("T-2")
    assert hits[0].doc_id == "T-1" and hits[0].explanation.shared_signatures


def test_malformed_records_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    ingestor, _ = _ingestor(tmp_path)
    src = tmp_path / "cases.jsonl"
    _write_cases(src, [CASE_1, "{not json", {"title": "no id"}, CASE_2])
    report = ingestor.ingest_cases(src)
    assert report.added == 2
    assert [s.location for s in report.skipped] == ["cases.jsonl:line 2", "cases.jsonl:line 3"]


def test_reingest_and_sync(tmp_path: Path) -> None:
    ingestor, emb = _ingestor(tmp_path)
    src = tmp_path / "cases.jsonl"
    _write_cases(src, [CASE_1, CASE_2])
    ingestor.ingest_cases(src)
    before = len(emb.seen)
    again = ingestor.ingest_cases(src)
    assert again.unchanged == 2 and len(emb.seen) == before
    changed = {**CASE_2, "title": "Refund errors since Monday"}
    _write_cases(src, [changed])
    report = ingestor.ingest_cases(src, sync=True)
    assert report.updated == 1 and report.deleted == ["T-1"]
    assert ingestor.index.stats()["cases"]["vectors"] == 1


def test_runbooks_chunked_with_heading_paths(tmp_path: Path) -> None:
    ingestor, _ = _ingestor(tmp_path)
    root = tmp_path / "kb"
    (root / "etcd").mkdir(parents=True)
    (root / "etcd" / "members.md").write_text(
        "---\ntitle: etcd members down\ntags: [etcd]\n---\n# etcd members down\n\n"
        "## Diagnosis\n\n### Check member health\n\nRun `etcdctl endpoint health` on each node.\n"
        "\n## Resolution\n\nRestart the failed member.\n",
        encoding="utf-8",
    )
    report = ingestor.ingest_runbooks(root)
    assert report.added == 1
    hits = HybridSearcher(ingestor.index).search(
        SearchQuery(text="etcdctl endpoint health", kind="runbook")
    )
    assert hits[0].doc_id == "etcd/members"
    assert hits[0].heading.endswith("Diagnosis > Check member health")
    (root / "etcd" / "members.md").unlink()
    assert ingestor.ingest_runbooks(root, sync=True).deleted == ["etcd/members"]
