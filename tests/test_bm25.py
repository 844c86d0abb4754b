"""BM25 scoring, incremental updates and cross-process freshness of the lexical index."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.domain import Case
from retrieval.bm25 import BM25Index, SlotMeta, tokenize
from retrieval.filters import SearchFilters
from retrieval.index import case_chunk, case_record
from retrieval.lexical import LexicalIndex


def test_tokenize_keeps_numbers_and_identifiers() -> None:
    assert tokenize("The HDFS-1234 error in req_9f3 at 10:42, is not OK") == [
        "hdfs",
        "1234",
        "error",
        "req_9f3",
        "10",
        "42",
        "ok",
    ]


def test_score_matches_hand_computed_lucene_bm25() -> None:
    idx = BM25Index(k1=1.5, b=0.75, title_weight=1.0)
    idx.add(SlotMeta("a#0", "a"), "", "timeout timeout gateway")
    idx.add(SlotMeta("b#0", "b"), "", "gateway ok")
    (meta, score), *_ = idx.search("timeout", k=5)
    # N=2, df(timeout)=1: idf = ln(1 + (2-1+0.5)/(1+0.5)) = ln 2; tf=2, dl=3, avgdl=2.5
    norm = 1.5 * (1 - 0.75 + 0.75 * 3 / 2.5)
    expected = math.log(2) * 2 * 2.5 / (2 + norm)
    assert meta.doc_id == "a" and score == pytest.approx(expected, rel=1e-5)


def test_repeated_query_terms_weigh_more_and_titles_count_more() -> None:
    idx = BM25Index(title_weight=3.0)
    idx.add(SlotMeta("t#0", "t"), "kafka lag", "consumer")
    idx.add(SlotMeta("b#0", "b"), "", "kafka lag consumer")
    assert idx.search("kafka lag", 2)[0][0].doc_id == "t"
    once = dict((m.doc_id, s) for m, s in idx.search("kafka consumer", 2))
    twice = dict((m.doc_id, s) for m, s in idx.search("kafka kafka consumer", 2))
    assert twice["b"] > once["b"]


def test_remove_and_replace() -> None:
    idx = BM25Index()
    idx.add(SlotMeta("a#0", "a"), "", "disk full on node")
    idx.add(SlotMeta("a#0", "a"), "", "memory pressure")  # replaces
    assert idx.search("disk", 5) == []
    assert len(idx) == 1 and idx.tombstone_ratio() == pytest.approx(0.5)
    idx.remove("a#0")
    assert idx.search("memory", 5) == [] and len(idx) == 0


def _cases() -> list[Case]:
    return [
        Case(
            id="x1",
            title="Disk full",
            body="disk full on broker",
            queue="infra",
            tags=["kafka"],
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        Case(
            id="x2",
            title="Disk latency",
            body="disk latency spikes",
            queue="storage",
            created_at=datetime(2026, 3, 1, tzinfo=UTC),
        ),
    ]


def test_filters_and_exclusions(tmp_path: Path) -> None:
    lex = LexicalIndex(tmp_path / "l.sqlite3")
    cases = _cases()
    lex.upsert([case_record(c) for c in cases], [[case_chunk(c)] for c in cases])
    ids = lambda **kw: [h.doc_id for h in lex.search("case", "disk", 10, **kw)]  # noqa: E731
    assert set(ids()) == {"x1", "x2"}
    assert ids(filters=SearchFilters(queue=["storage"])) == ["x2"]
    assert ids(filters=SearchFilters(tags=["kafka"])) == ["x1"]
    assert ids(filters=SearchFilters(created_before=datetime(2026, 2, 1, tzinfo=UTC))) == ["x1"]
    assert ids(exclude=["x1"]) == ["x2"]


def test_another_process_write_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    reader, writer = LexicalIndex(path), LexicalIndex(path)
    cases = _cases()
    writer.upsert([case_record(cases[0])], [[case_chunk(cases[0])]])
    assert [h.doc_id for h in reader.search("case", "disk", 5)] == ["x1"]
    writer.upsert([case_record(cases[1])], [[case_chunk(cases[1])]])
    writer.delete("case", ["x1"])
    assert [h.doc_id for h in reader.search("case", "disk", 5)] == ["x2"]


def test_common_terms_are_skipped_only_in_large_indexes() -> None:
    idx = BM25Index()
    for i in range(1200):
        idx.add(SlotMeta(f"d{i}#0", f"d{i}"), "", "common words" + (" rare" if i < 3 else ""))
    hits = idx.search("common rare", 10)
    assert {m.doc_id for m, _ in hits} == {"d0", "d1", "d2"}
    assert len(idx.search("common", 10)) == 10  # nothing but common terms: still searched
