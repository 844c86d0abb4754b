"""`casebook coverage report|calibrate`: KB coverage analytics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from cli.app import app, console, container_of, err, friendly_errors, progress_bar
from core.errors import RecordError, ValidationFailed
from core.settings import Settings
from kb_coverage.calibration import CalibrationResult, LabelledQuery, calibrate, score_queries
from kb_coverage.config import CoverageConfig
from kb_coverage.report import CoverageReport
from kb_coverage.utility import RunbookUsageEvent

coverage_app = typer.Typer(no_args_is_help=True, help="Which cases the KB covers, and its gaps.")
app.add_typer(coverage_app, name="coverage")


def _moment(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or datetime (UTC when naive); a bare date as --until means its end."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date or datetime") from exc
    if end_of_day and len(value) == 10:
        parsed = datetime.combine(parsed.date(), time.max)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_events(path: Path) -> list[RunbookUsageEvent]:
    events: list[RunbookUsageEvent] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(RunbookUsageEvent.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "line"
            raise ValidationFailed(
                f"{path}:line {number}: not a usage event ({where}: {first['msg']})"
            ) from exc
    return events


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def print_report(report: CoverageReport, *, weeks: int = 12) -> None:
    """The report's summary, trends, gaps, spikes and runbook utility as rich tables."""
    s = report.summary
    console.rule("KB coverage")
    console.print(
        f"{s.cases} cases · covered {s.covered} ({_pct(s.rate)}) · not covered {s.not_covered}"
        f" · by the match score alone {_pct(s.match_rate)} · threshold "
        f"{report.config.threshold:.3f}"
    )
    console.print("decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_basis.items())))

    trend = Table(title=f"coverage by week (last {weeks})")
    for col in ("week", "cases", "covered", "rate"):
        trend.add_column(col, justify="right" if col != "week" else "left")
    for w in report.weekly[-weeks:]:
        trend.add_row(w.key, str(w.total), str(w.covered), _pct(w.rate))
    console.print(trend)
    for title, rows in (("by queue", report.by_queue), ("by product", report.by_product)):
        table = Table(title=f"coverage {title}")
        for col in ("", "cases", "covered", "rate"):
            table.add_column(col, justify="right" if col else "left")
        for rate in rows:
            table.add_row(rate.key, str(rate.total), str(rate.covered), _pct(rate.rate))
        console.print(table)

    gaps = Table(title=f"gap clusters ({s.unclustered_gaps} uncovered cases in none)")
    for col in ("id", "gap", "examples", "closest runbook"):
        gaps.add_column(col, overflow="fold")
    for g in report.gaps:
        flag = " [red]spike[/red]" if g.spike else ""
        growth = f", growth {g.growth:+.0%}" if g.growth is not None else ""
        terms = ", ".join(g.terms)
        text = f"{g.summary}{flag}\n[dim]{g.size} in total{growth}; terms: {terms}[/dim]"
        examples = "\n".join(f"{r.case_id} {r.title}" for r in g.representatives)
        near = (
            f"{g.nearest_runbook} ({g.nearest_runbook_score:.2f})"
            if g.nearest_runbook and g.nearest_runbook_score is not None
            else ""
        )
        gaps.add_row(g.id, text, examples, near)
    console.print(gaps)

    if report.spikes:
        spikes = Table(title="spikes: possible product issues")
        for col in ("kind", "what", "first", "peak", "z", "ongoing"):
            spikes.add_column(col, overflow="fold")
        for sp in report.spikes:
            spikes.add_row(
                sp.kind, sp.summary, sp.first_week, sp.peak_week, f"{sp.z:.1f}",
                "yes" if sp.ongoing else "",
            )  # fmt: skip
        console.print(spikes)

    usage = Table(title="runbook utility")
    for col in ("runbook", "matched", "linked", "cited", "accepted", "last used"):
        usage.add_column(col, justify="left" if col in ("runbook", "last used") else "right")
    for r in report.runbooks:
        if r.stale:
            continue
        last = f"{r.last_used:%Y-%m-%d}" if r.last_used else ""
        usage.add_row(
            r.runbook_id, str(r.matched), str(r.linked), str(r.cited), str(r.accepted), last
        )
    console.print(usage)
    stale = [r.runbook_id for r in report.runbooks if r.stale]
    names = ", ".join(stale) or "none"
    console.print(f"stale candidates (never matched, linked or cited): {names}")


@coverage_app.command("report")
def coverage_report(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="cases created from (ISO date)")] = None,
    until: Annotated[str | None, typer.Option(help="cases created until (ISO date)")] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0, max=1, help="override CASEBOOK_COVERAGE_THRESHOLD")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="JSONL of runbook usage events"),
    ] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="write CSV tables here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Coverage rate, trends, gap clusters, spikes and runbook utility for a time window."""
    from kb_coverage.export import report_json, write_csv
    from kb_coverage.report import build_report
    from retrieval.factory import fusion_weights

    c = container_of(ctx)
    start, end = _moment(since), _moment(until, end_of_day=True)
    config = CoverageConfig(
        threshold=c.settings.coverage_threshold if threshold is None else threshold
    )
    with friendly_errors():
        # Drafts and reviews in the service database, plus any events given as a file.
        from service.coverage import usage_events

        usage = usage_events(c.database) + (_read_events(events) if events else [])
        with progress_bar("assessing cases") as advance:
            report = build_report(
                c.index,
                since=start,
                until=end,
                config=config,
                weights=fusion_weights(c.settings),
                events=usage,
                progress=advance,
            )
    if csv_dir is not None:
        for path in write_csv(report, csv_dir):
            err.print(f"wrote {path}")
    if as_json:
        print(report_json(report))
    else:
        print_report(report)


def alert_queries(alerts: Path) -> list[LabelledQuery]:
    """Prometheus alerts as labelled queries: alert text, and its runbook id or None."""
    from evals.runbook_alerts import alert_query, load_alerts
    from kb_ingest.runbook_reader import read_runbooks

    by_path = {
        str(r.metadata.get("path", r.source)): r.id
        for r in read_runbooks(alerts.parent)
        if not isinstance(r, RecordError)
    }
    queries = []
    for number, alert in enumerate(load_alerts(alerts)):
        target = alert.get("runbook_path")
        name = str(alert.get("alert", number))
        queries.append(
            LabelledQuery(
                id=f"{name}#{number}",
                group=name,
                text=alert_query(alert) or name,
                expected_runbook=by_path.get(str(target)) if target else None,
            )
        )
    return queries


def calibrate_on_alerts(alerts: Path, settings: Settings) -> CalibrationResult:
    """Index the runbooks beside alerts.json in memory, score every alert, calibrate."""
    from casetext.tokens import TokenCounter
    from kb_coverage.matching import RunbookMatcher
    from kb_ingest.pipeline import Ingestor
    from retrieval.embedding import build_embedder
    from retrieval.factory import fusion_weights
    from retrieval.index import KnowledgeIndex
    from retrieval.lexical import LexicalIndex
    from retrieval.memory_store import MemoryVectorStore

    index = KnowledgeIndex(build_embedder(settings), MemoryVectorStore(), LexicalIndex(":memory:"))
    ingestor = Ingestor(
        index,
        redactor=None,
        counter=TokenCounter(settings.tokenizer_encoding),
        max_tokens=settings.chunk_max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    ingestor.ingest_runbooks(alerts.parent)
    matcher = RunbookMatcher(index, weights=fusion_weights(settings))
    queries = alert_queries(alerts)
    return calibrate(score_queries(matcher, queries, settings.embedding_batch_size))


@coverage_app.command("calibrate")
def coverage_calibrate(
    ctx: typer.Context,
    alerts: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="alerts.json beside runbooks/")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Choose the coverage threshold on half of the alerts; precision/recall on the rest."""
    settings = container_of(ctx).settings
    with friendly_errors(), console.status("indexing runbooks and scoring alerts…"):
        result = calibrate_on_alerts(alerts, settings)
    table = Table(title=f"coverage threshold {result.threshold:.3f} ({result.objective})")
    for col in ("split", "n", "covered P / R", "not covered P / R", "bal. acc.", "AUC",
                "right runbook"):  # fmt: skip
        table.add_column(col, justify="right" if col != "split" else "left")
    for name, m in (("calibration", result.calibration), ("held out", result.held_out)):
        table.add_row(
            name,
            str(m.n),
            f"{m.covered.precision:.3f} / {m.covered.recall:.3f}",
            f"{m.not_covered.precision:.3f} / {m.not_covered.recall:.3f}",
            f"{m.balanced_accuracy:.3f}",
            "—" if m.roc_auc is None else f"{m.roc_auc:.3f}",
            "—" if m.right_runbook_precision is None else f"{m.right_runbook_precision:.3f}",
        )
    console.print(table)
    console.print(
        f"configured CASEBOOK_COVERAGE_THRESHOLD={settings.coverage_threshold}; "
        f"calibrated {result.threshold:.3f}"
    )
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), separators=(",", ":")))
