"""One contract, every VectorStore backend: memory, embedded Chroma, Chroma server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from retrieval.chroma_store import ChromaVectorStore
from retrieval.filters import SearchFilters, epoch, tag_key
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import VectorStore
from tests.fakes import HashingEmbedder

EMB = HashingEmbedder()


@pytest.fixture(params=["memory", "chroma-embedded", "chroma-http"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """Each backend, empty."""
    if request.param == "memory":
        yield MemoryVectorStore()
        return
    if request.param == "chroma-embedded":
        yield ChromaVectorStore(EMB, mode="embedded", path=tmp_path / "chroma", prefix="t")
        return
    host, port = request.getfixturevalue("chroma_server")
    # One server for the session: a unique prefix keeps tests apart.
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**8}"
    s = ChromaVectorStore(EMB, mode="http", host=host, port=port, prefix=prefix)
    yield s
    s.reset("c")


def _meta(queue: str, created: str, *tags: str) -> dict[str, object]:
    meta: dict[str, object] = {
        "doc_id": queue,
        "queue": queue,
        "created_at": epoch(datetime.fromisoformat(created).replace(tzinfo=UTC)),
    }
    meta.update({tag_key(t): True for t in tags})
    return meta


def _seed(store: VectorStore) -> None:
    texts = [
        "webhook signature invalid after key rotation",
        "card declined insufficient funds on checkout",
        "export job timeout on large reports",
        "webhook delivery retries exhausted endpoint 500",
    ]
    metas = [
        _meta("integrations", "2026-01-01", "webhooks"),
        _meta("payments-api", "2026-02-01", "cards"),
        _meta("data-platform", "2026-03-01"),
        _meta("integrations", "2026-04-01", "webhooks", "retries"),
    ]
    store.upsert("c", ["a#0", "b#0", "c#0", "d#0"], EMB.embed(texts), metas)  # type: ignore[arg-type]


def test_query_returns_nearest_first(store: VectorStore) -> None:
    _seed(store)
    hits = store.query("c", EMB.embed(["webhook signature invalid"])[0], k=4)
    assert hits[0].id == "a#0"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == pytest.approx(
        float(
            EMB.embed(["webhook signature invalid"])[0]
            @ EMB.embed(["webhook signature invalid after key rotation"])[0]
        ),
        abs=1e-4,
    )
    assert hits[0].metadata["queue"] == "integrations"


def test_query_without_metadata_returns_the_same_hits(store: VectorStore) -> None:
    _seed(store)
    vector = EMB.embed(["webhook retries"])[0]
    flt = SearchFilters(queue=["integrations"])
    full = store.query("c", vector, k=4, filters=flt)
    bare = store.query("c", vector, k=4, filters=flt, with_metadata=False)
    assert [h.id for h in bare] == [h.id for h in full] == ["d#0", "a#0"]
    assert [h.score for h in bare] == pytest.approx([h.score for h in full], abs=1e-6)
    assert all(dict(h.metadata) == {} for h in bare) and full[0].metadata["queue"]


def test_count_upsert_replaces_and_delete(store: VectorStore) -> None:
    assert store.count("c") == 0
    _seed(store)
    assert store.count("c") == 4
    # Replace a#0 with the export text: it must now be the nearest to "export".
    store.upsert(
        "c", ["a#0"], EMB.embed(["export job timeout reports"]), [_meta("x", "2026-01-01")]
    )
    assert store.count("c") == 4
    top = store.query("c", EMB.embed(["export job timeout reports"])[0], k=2)
    assert {h.id for h in top} == {"a#0", "c#0"}
    store.delete("c", ["a#0", "nope#0"])
    assert store.count("c") == 3
    assert "a#0" not in {h.id for h in store.query("c", EMB.embed(["export"])[0], k=10)}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(queue=["integrations"]), {"a#0", "d#0"}),
        (SearchFilters(tags=["webhooks", "retries"]), {"d#0"}),
        (SearchFilters(created_before=datetime(2026, 2, 15, tzinfo=UTC)), {"a#0", "b#0"}),
        (
            SearchFilters(created_after=datetime(2026, 1, 15, tzinfo=UTC), queue=["integrations"]),
            {"d#0"},
        ),
        (SearchFilters(queue=["nobody"]), set()),
    ],
)
def test_filters(store: VectorStore, filters: SearchFilters, expected: set[str]) -> None:
    _seed(store)
    hits = store.query("c", EMB.embed(["webhook"])[0], k=10, filters=filters)
    assert {h.id for h in hits} == expected


def test_k_larger_than_collection_and_missing_collection(store: VectorStore) -> None:
    assert store.query("c", EMB.embed(["x"])[0], k=5) == []
    _seed(store)
    assert len(store.query("c", EMB.embed(["x"])[0], k=50)) == 4
    store.delete("other", ["x"])  # deleting from a collection that does not exist is fine
    assert store.count("other") == 0


def test_vectors_round_trip_as_float32(store: VectorStore) -> None:
    v = np.zeros((1, EMB.dimension), dtype=np.float32)
    v[0, 3] = 1.0
    store.upsert("c", ["z#0"], v, [{"doc_id": "z"}])
    hit = store.query("c", v[0], k=1)[0]
    assert hit.id == "z#0" and hit.score == pytest.approx(1.0, abs=1e-5)
