"""`casebook eval ...`: retrieval and routing evals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.app import (
    console,
    container_of,
    err,
    eval_app,
    friendly_errors,
    progress_bar,
)
from core.domain import Case


def _print_eval(title: str, result: dict[str, Any], as_json: bool) -> None:
    modes = [m for m in ("hybrid", "bm25", "dense") if m in result]
    metrics = [m for m in result[modes[0]] if m != "ci95"]
    table = Table(title=f"{title} (n={result['n_queries']}, 95% bootstrap intervals)")
    table.add_column("mode")
    for metric in metrics:
        table.add_column(metric, justify="right")
    for mode in modes:
        row = result[mode]
        cells = [
            f"{row[m]:.3f} [{row['ci95'][m][0]:.3f}, {row['ci95'][m][1]:.3f}]" for m in metrics
        ]
        table.add_row(mode, *cells)
    console.print(table)
    if as_json:
        # One JSON object as the very last line, for scripts.
        print(json.dumps(result, separators=(",", ":")))


@eval_app.command("similar-cases")
def eval_similar_cases(
    ctx: typer.Context,
    bugs: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="GitBugs bugs.csv")],
    duplicates: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="GitBugs duplicates.csv")
    ],
    any_time: Annotated[
        bool, typer.Option("--any-time", help="candidates need not predate the query")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Similar-case retrieval on GitBugs duplicates: BM25, dense and hybrid."""
    from evals.similar_cases import evaluate_similar_cases
    from retrieval.embedding import build_embedder
    from retrieval.factory import fusion_weights

    settings = container_of(ctx).settings
    with friendly_errors(), progress_bar("embedding bugs") as advance:
        result = evaluate_similar_cases(
            bugs,
            duplicates,
            build_embedder(settings),
            weights=fusion_weights(settings),
            any_time=any_time,
            progress=advance,
        )
    _print_eval("similar cases", result, as_json)


@eval_app.command("runbooks")
def eval_runbooks(
    ctx: typer.Context,
    alerts: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="alerts.json")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Runbook retrieval on Prometheus alerts: BM25, dense and hybrid."""
    from casetext.tokens import TokenCounter
    from evals.runbook_alerts import evaluate_runbooks
    from retrieval.embedding import build_embedder
    from retrieval.factory import fusion_weights

    settings = container_of(ctx).settings
    with friendly_errors():
        result = evaluate_runbooks(
            alerts,
            build_embedder(settings),
            TokenCounter(settings.tokenizer_encoding),
            weights=fusion_weights(settings),
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
    _print_eval("runbooks for alerts", result, as_json)


@eval_app.command("routing")
def eval_routing(
    ctx: typer.Context,
    train: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV with id,text,queue")
    ],
    test: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="held-out CSV")
    ] = None,
    split: Annotated[
        float | None, typer.Option(help="fixed stratified split of --train, e.g. 0.2")
    ] = None,
    baselines: Annotated[bool, typer.Option(help="also run the plain baselines")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Routing accuracy, macro-F1, per-queue precision/recall, coverage at 95% precision."""
    from evals.routing import evaluate_routing, load_labelled_csv, stratified_split

    if (test is None) == (split is None):
        raise typer.BadParameter("give --test CSV or --split FRACTION")
    c = container_of(ctx)
    with friendly_errors():
        rows = load_labelled_csv(train)
        if split is not None:
            train_rows, test_rows = stratified_split(rows, test_size=split)
        else:
            train_rows, test_rows = rows, load_labelled_csv(test)  # type: ignore[arg-type]
        with console.status(f"embedding and training on {len(train_rows)} tickets…"):
            result = evaluate_routing(
                [(r[1], r[2]) for r in train_rows],
                [(r[1], r[2]) for r in test_rows],
                c.index.embedder,
                baselines=baselines,
            )
    table = Table(title=f"routing (n={result['n']})")
    for col in ("queue", "precision", "recall", "f1", "support"):
        table.add_column(col)
    for queue, m in sorted(result["per_queue"].items()):
        table.add_row(
            queue, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
            str(m["support"]),
        )  # fmt: skip
    console.print(table)
    ci = result.get("ci95", {})
    console.print(
        f"accuracy {result['accuracy']:.3f} {ci.get('accuracy', '')} · macro-F1 "
        f"{result['macro_f1']:.3f} {ci.get('macro_f1', '')} · routable at 95% precision "
        f"{result['coverage_at_95_precision']:.3f}"
    )
    for name, b in (result.get("baselines") or {}).items():
        console.print(
            f"  baseline {name}: accuracy {b['accuracy']:.3f}, macro-F1 {b['macro_f1']:.3f}"
        )
    if as_json:
        print(json.dumps(result, default=float, separators=(",", ":")))


@eval_app.command("routing-llm")
def eval_routing_llm(
    ctx: typer.Context,
    cases: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Case JSONL")],
    holdout: Annotated[int, typer.Option(help="latest labelled cases triaged as new")] = 40,
    limit: Annotated[int | None, typer.Option(help="triage only this many of them")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Queue accuracy with the configured LLM in the loop vs the router alone."""
    from evals.routing_llm import evaluate_llm_routing
    from kb_ingest.case_readers import read_cases

    c = container_of(ctx)
    if c.llm_writer is None:
        err.print("[red]error:[/red] set CASEBOOK_LLM_MODEL (see `casebook llm local serve`)")
        raise typer.Exit(2)
    with friendly_errors(), progress_bar("triaging held-out cases", limit or holdout) as advance:
        loaded = [r for r in read_cases(cases) if isinstance(r, Case)]
        result = evaluate_llm_routing(
            loaded, c.index.embedder, c.llm_writer, holdout=holdout, limit=limit,
            queues=list(c.queues), progress=advance,
        )  # fmt: skip
    console.print(
        f"n={result['n']} (trained on {result['train']}): router alone "
        f"{result['router']['accuracy']:.3f}, with LLM {result['router+llm']['accuracy']:.3f}"
    )
    console.print(result["router+llm"])
    if as_json:
        print(json.dumps(result))
