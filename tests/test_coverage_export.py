"""Report exports: JSON that round-trips, CSV tables safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.domain import Case, Chunk, Runbook
from kb_coverage.config import CoverageConfig
from kb_coverage.export import report_json, write_csv
from kb_coverage.report import CoverageReport, build_report, window_cases
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from tests.fakes import HashingEmbedder

T0 = datetime(2026, 10, 5, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def report() -> CoverageReport:
    index = KnowledgeIndex(HashingEmbedder(256), MemoryVectorStore(), LexicalIndex(":memory:"))
    body = "Card declined: insufficient funds, do not honor, ask the customer to retry"
    index.upsert_runbooks(
        [(Runbook(id="payments/declines", title="Card declines", body=body),
          [Chunk(id="payments/declines#0", doc_id="payments/declines", kind="runbook",
                 text=body)])]
    )  # fmt: skip
    cases = [
        Case(id=f"D-{i}", title="Card declined", body="insufficient funds on checkout",
             created_at=T0 + timedelta(days=3 * i), status="resolved",
             linked_runbooks=["payments/declines"], queue="payments")
        for i in range(6)
    ] + [
        Case(id=f"S-{i}", title="=HYPERLINK(\"http://x\") SMS code missing",
             body="SMS login code never arrives on UK numbers", status="open",
             created_at=T0 + timedelta(days=2 * i + 20), queue="account-ops")
        for i in range(4)
    ]  # fmt: skip
    index.upsert_cases(cases)
    config = CoverageConfig(threshold=0.3, neighbour_similarity=0.8, cluster_distance=0.5)
    return build_report(index, config=config)


def test_report_covers_the_window_and_finds_the_gap(report: CoverageReport) -> None:
    s = report.summary
    assert (s.cases, s.covered, s.not_covered) == (10, 6, 4)
    assert s.by_basis["linked:covered"] == 6
    assert [g.size for g in report.gaps] == [4]
    assert "sms" in " ".join(report.gaps[0].terms)
    assert {r.key for r in report.by_queue} == {"payments", "account-ops"}
    assert report.runbooks[0].runbook_id == "payments/declines"
    assert report.runbooks[0].linked == 6


def test_window_cases_is_inclusive_and_sorted() -> None:
    cases = [Case(id=str(i), created_at=T0 + timedelta(days=i)) for i in (3, 1, 2, 0)]
    picked = window_cases(cases, T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert [c.id for c in picked] == ["1", "2"]


def test_json_round_trips(report: CoverageReport) -> None:
    again = CoverageReport.model_validate_json(report_json(report))
    assert again == report


def test_csv_tables_have_headers_rows_and_no_formulas(
    report: CoverageReport, tmp_path: Path
) -> None:
    paths = write_csv(report, tmp_path / "out")
    assert {p.name for p in paths} == {
        "cases.csv", "gaps.csv", "weekly.csv", "queues.csv", "products.csv", "spikes.csv",
        "runbooks.csv",
    }  # fmt: skip
    with (tmp_path / "out" / "cases.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10
    gap_rows = [r for r in rows if r["covered"] == "false"]
    assert {r["gap_cluster"] for r in gap_rows} == {"gap-1"}
    assert all(r["title"].startswith("'=HYPERLINK") for r in gap_rows)
    with (tmp_path / "out" / "gaps.csv").open(encoding="utf-8", newline="") as fh:
        gap = next(csv.DictReader(fh))
    assert gap["size"] == "4" and gap["summary"].endswith("no runbook")
    with (tmp_path / "out" / "weekly.csv").open(encoding="utf-8", newline="") as fh:
        weekly = list(csv.DictReader(fh))
    assert sum(int(w["total"]) for w in weekly) == 10
