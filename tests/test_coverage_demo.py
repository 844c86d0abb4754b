"""The coverage report on the demo data finds its deliberate KB gaps and the spike.

The demo README documents five topics no runbook covers, one of them a spike in the last
three weeks, and two incident bursts. Topics are ground-truth labels in case metadata that
the analysis never reads; the checks are per topic, never per record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from core.domain import Case
from core.settings import Settings
from kb_coverage.report import CoverageReport, build_report
from kb_coverage.weeks import week_label, week_start
from kb_ingest.case_readers import read_cases
from kb_ingest.pipeline import Ingestor
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import Embedder
from tests.fakes import HashingEmbedder

DEMO = Path(__file__).resolve().parents[1] / "demo"
SPIKE_TOPIC = "webhook-signature-sdk-key-rotation"
GAP_TOPICS = {
    SPIKE_TOPIC,
    "android-3ds-challenge-crash",
    "invoice-tax-rounding",
    "csv-export-encoding",
    "sms-2fa-delivery",
}
INCIDENT_DAYS = (date(2026, 6, 17), date(2026, 9, 9))


class CachingEmbedder:
    """The real embedder, remembering texts: the report re-embeds what ingest embedded."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._seen: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed the texts not seen before, reuse the rest."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if todo:
            for text, vector in zip(todo, self.inner.embed(todo), strict=True):
                self._seen[text] = vector
        return np.stack([self._seen[t] for t in texts])


def _demo_report(embedder: Embedder) -> tuple[CoverageReport, dict[str, str]]:
    index = KnowledgeIndex(embedder, MemoryVectorStore(), LexicalIndex(":memory:"))
    settings = Settings()
    ingestor = Ingestor(
        index,
        redactor=Redactor(settings.redact_kinds),
        counter=TokenCounter(settings.tokenizer_encoding),
    )
    ingestor.ingest_runbooks(DEMO / "runbooks")
    ingestor.ingest_cases(DEMO / "cases.jsonl")
    topics = {
        c.id: str(c.metadata["topic"])
        for c in read_cases(DEMO / "cases.jsonl")
        if isinstance(c, Case)
    }
    return build_report(index), topics


def _check(
    report: CoverageReport, topics: dict[str, str], *, recall: float, accuracy: float
) -> None:
    sizes = Counter(topics.values())
    decided = {c.case_id: c.covered for c in report.cases}
    right = sum(decided[cid] == (topic not in GAP_TOPICS) for cid, topic in topics.items())
    assert right / len(topics) >= accuracy

    # Each gap topic is the clear majority of one gap cluster holding most of its cases.
    found: dict[str, str] = {}
    for gap in report.gaps:
        topic, n = Counter(topics[c] for c in gap.case_ids).most_common(1)[0]
        if topic in GAP_TOPICS and n >= 0.8 * gap.size and n >= recall * sizes[topic]:
            found.setdefault(topic, gap.id)
    assert set(found) == GAP_TOPICS, f"found {found} in {[g.summary for g in report.gaps]}"
    # No cluster of a covered topic outranks the five gaps.
    assert sorted(found.values(), key=lambda i: int(i.split("-")[1])) == [
        f"gap-{i}" for i in range(1, 6)
    ]

    # The spike: the biggest recent gap, flagged, and still going at the end of the window.
    top = report.gaps[0]
    assert found[SPIKE_TOPIC] == top.id and top.spike
    assert top.summary.startswith(f"{top.recent} tickets in the last 30 days about ")
    assert top.recent >= recall * sizes[SPIKE_TOPIC]
    spike = next(s for s in report.spikes if s.kind == "gap_cluster" and s.key == top.id)
    assert spike.ongoing
    # Its error signature spikes too.
    assert any(s.kind == "signature" and s.ongoing for s in report.spikes)


def test_demo_report_with_the_hashing_embedder() -> None:
    report, topics = _demo_report(HashingEmbedder(512))
    _check(report, topics, recall=0.5, accuracy=0.85)


@pytest.mark.slow
def test_demo_report_with_the_real_embedder() -> None:
    from retrieval.embedding import build_embedder

    report, topics = _demo_report(CachingEmbedder(build_embedder(Settings())))
    _check(report, topics, recall=0.8, accuracy=0.95)
    # Covered topics stay covered.
    per_topic: dict[str, list[bool]] = {}
    for case in report.cases:
        per_topic.setdefault(topics[case.case_id], []).append(case.covered)
    for topic, flags in per_topic.items():
        if topic not in GAP_TOPICS:
            assert sum(flags) / len(flags) >= 0.8, topic
    # The two incident bursts show up as signature spikes in their weeks.
    spike_weeks = {s.peak_week for s in report.spikes if s.kind == "signature"}
    for day in INCIDENT_DAYS:
        assert week_label(week_start(day)) in spike_weeks
    # The spike's label names what it is about.
    assert "signature" in " ".join(report.gaps[0].terms)
