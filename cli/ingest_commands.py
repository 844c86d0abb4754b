"""`casebook ingest ...` and `casebook demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.app import (
    app,
    console,
    container_of,
    friendly_errors,
    ingest_app,
    progress_bar,
)
from cli.search_commands import print_hits
from kb_ingest.pipeline import IngestReport
from retrieval.search import SearchQuery

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"


def _print_report(report: IngestReport) -> None:
    table = Table(title=f"Ingested {report.kind}s from {report.source}", show_header=False)
    for label, value in [
        ("read", report.read),
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged (skipped, same content)", report.unchanged),
        ("deleted (gone from source)", len(report.deleted)),
        ("duplicate ids in source (last wins)", report.duplicates),
        ("malformed, skipped", len(report.skipped)),
        ("chunks embedded", report.chunks_embedded),
        ("redactions", ", ".join(f"{k}={v}" for k, v in sorted(report.redactions.items())) or "0"),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    for skip in report.skipped[:50]:
        console.print(f"  [yellow]skipped[/yellow] {skip.location}: {skip.reason}")
    if len(report.skipped) > 50:
        console.print(f"  … and {len(report.skipped) - 50} more")


@ingest_app.command("runbooks")
def ingest_runbooks(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="folder of runbooks")],
    sync: Annotated[bool, typer.Option(help="delete runbooks gone from the folder")] = False,
) -> None:
    """Ingest a folder of Markdown and HTML runbooks."""
    with friendly_errors(), progress_bar("runbooks") as advance:
        report = container_of(ctx).ingestor.ingest_runbooks(path, sync=sync, progress=advance)
    _print_report(report)


@ingest_app.command("cases")
def ingest_cases(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="cases file")],
    mapping: Annotated[
        str | None, typer.Option(help="mapping preset name or TOML/JSON mapping file")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl, zendesk, jira, github")
    ] = None,
    sync: Annotated[bool, typer.Option(help="delete cases gone from the file")] = False,
) -> None:
    """Ingest past cases from JSONL, CSV (with a column mapping) or tracker JSON."""
    with friendly_errors(), progress_bar("cases") as advance:
        report = container_of(ctx).ingestor.ingest_cases(
            file, mapping=mapping, fmt=fmt, sync=sync, progress=advance
        )
    _print_report(report)


@app.command()
def demo(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option(help="demo data folder")] = DEMO_DIR,
) -> None:
    """Load the bundled demo data (runbooks and past cases) and run a sample search."""
    c = container_of(ctx)
    with friendly_errors():
        with progress_bar("demo runbooks") as advance:
            _print_report(
                c.ingestor.ingest_runbooks(path / "runbooks", sync=True, progress=advance)
            )
        with progress_bar("demo cases") as advance:
            _print_report(
                c.ingestor.ingest_cases(path / "cases.jsonl", sync=True, progress=advance)
            )
        sample = "Webhook events rejected with signature verification failed after rotating secret"
        console.rule(f"search: {sample!r}")
        print_hits(c.searcher.search(SearchQuery(text=sample, k=5)), as_json=False)
        console.rule("runbooks")
        print_hits(c.searcher.search(SearchQuery(text=sample, kind="runbook", k=3)), False)
