"""Exports of a coverage report: one JSON document, or a folder of CSV tables."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kb_coverage.report import CoverageReport

# Cells a spreadsheet would run as a formula (customers write case titles).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_json(report: CoverageReport, *, indent: int | None = 2) -> str:
    """The whole report as JSON."""
    return report.model_dump_json(indent=indent)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list | tuple):
        value = " | ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    return path


def write_csv(report: CoverageReport, directory: Path) -> list[Path]:
    """Write cases, gaps, weekly, queues, products, spikes and runbooks CSV files."""
    directory.mkdir(parents=True, exist_ok=True)
    cluster_of = {cid: g.id for g in report.gaps for cid in g.case_ids}
    paths = [
        _write(
            directory / "cases.csv",
            ["case_id", "created_at", "queue", "product", "status", "covered", "basis",
             "runbook_id", "best_runbook", "match_score", "dense_score", "term_coverage",
             "similar_resolved", "similar_linked", "gap_cluster", "title"],
            (
                [c.case_id, c.created_at, c.queue, c.product, c.status, c.covered, c.basis,
                 c.runbook_id, m.runbook_id if m else None, m.score if m else None,
                 m.dense_score if m else None, m.term_coverage if m else None,
                 c.similar_resolved, c.similar_linked, cluster_of.get(c.case_id), c.title]
                for c in report.cases
                for m in [c.best_match]
            ),
        ),
        _write(
            directory / "gaps.csv",
            ["id", "size", "recent", "previous", "growth", "first_seen", "last_seen", "label",
             "terms", "signatures", "nearest_runbook", "nearest_runbook_score", "spike",
             "representatives", "summary"],
            (
                [g.id, g.size, g.recent, g.previous, g.growth, g.first_seen, g.last_seen,
                 g.label, g.terms, g.signatures, g.nearest_runbook, g.nearest_runbook_score,
                 g.spike, [r.case_id for r in g.representatives], g.summary]
                for g in report.gaps
            ),
        ),
        _write(
            directory / "weekly.csv",
            ["week", "start", "total", "covered", "rate"],
            ([w.key, w.start, w.total, w.covered, w.rate] for w in report.weekly),
        ),
        _write(
            directory / "queues.csv",
            ["queue", "total", "covered", "rate"],
            ([r.key, r.total, r.covered, r.rate] for r in report.by_queue),
        ),
        _write(
            directory / "products.csv",
            ["product", "total", "covered", "rate"],
            ([r.key, r.total, r.covered, r.rate] for r in report.by_product),
        ),
        _write(
            directory / "spikes.csv",
            ["kind", "key", "label", "first_week", "peak_week", "peak_count", "baseline", "z",
             "ongoing", "summary"],
            (
                [s.kind, s.key, s.label, s.first_week, s.peak_week, s.peak_count, s.baseline,
                 s.z, s.ongoing, s.summary]
                for s in report.spikes
            ),
        ),
        _write(
            directory / "runbooks.csv",
            ["runbook_id", "title", "matched", "linked", "cited", "accepted", "acceptance_rate",
             "last_used", "stale"],
            (
                [r.runbook_id, r.title, r.matched, r.linked, r.cited, r.accepted,
                 r.acceptance_rate, r.last_used, r.stale]
                for r in report.runbooks
            ),
        ),
    ]  # fmt: skip
    return paths
