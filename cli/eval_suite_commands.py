"""`casebook eval import | run | compare | history | report | gate`: the labelled eval suite."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.app import console, container_of, err, eval_app, friendly_errors
from core.settings import Settings
from evals.config import EvalConfig, load_config
from evals.runner import Components
from evals.runs import EvalRun
from retrieval.protocols import Embedder
from triage.engine import DraftWriter
from triage.llm import LLMGateway

IMPORT_SOURCES = ("demo", "gitbugs", "alerts", "endava")


def _embedder(settings: Settings, model: str) -> Embedder:
    """The embedder a run asks for (tests replace this)."""
    from retrieval.embedding import build_embedder

    if model != settings.embedding_model:
        settings = settings.model_copy(update={"embedding_model": model})
    return build_embedder(settings)


def _gateway(settings: Settings, model: str) -> LLMGateway:
    """An LLM gateway to `model` with the configured endpoint, bounds and call log."""
    from triage.llm import CallLog, LiteLLMBackend

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    backend = LiteLLMBackend(
        model,
        api_base=settings.llm_api_base,
        api_key=key,
        fallbacks=settings.llm_fallbacks,
        extra_params={"temperature": settings.llm_temperature},
    )
    return LLMGateway(
        backend,
        model_name=model,
        max_retries=settings.llm_max_retries,
        timeout_s=settings.llm_timeout_s,
        response_format_mode=settings.llm_response_format,
        call_log=CallLog(settings.data_dir / "llm_calls.sqlite3"),
    )


def _components(settings: Settings, config: EvalConfig) -> Components:
    from casetext.tokens import TokenCounter
    from evals.judge import Judge
    from triage.llm_draft import LLMDraftWriter
    from triage.queues import load_queues

    counter = TokenCounter(settings.tokenizer_encoding)
    queues = load_queues(settings.queues_file) if settings.queues_file else None
    model = config.llm_model or None
    factory = None
    if model:
        gateway = _gateway(settings, model)

        def factory(allowed: Mapping[str, str]) -> DraftWriter:
            return LLMDraftWriter(
                gateway,
                counter,
                queues=allowed,
                context_tokens=settings.llm_context_tokens,
                prompt_version=config.prompt_version,
            )

    judge = None
    judge_model = config.judge_model or model
    if config.judge and judge_model:
        judge = Judge(
            _gateway(settings, judge_model),
            repeats=config.judge_repeats,
            version=config.judge_prompt_version,
        )
    return Components(
        embedder=_embedder(settings, config.embedder or settings.embedding_model),
        counter=counter,
        writer_factory=factory,
        judge=judge,
        queues=queues,
        model=model,
        prompt_version=config.prompt_version if model else None,
        chunk_max_tokens=settings.chunk_max_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        say=lambda msg: err.print(f"[dim]{msg}[/dim]"),
    )


def _run(
    settings: Settings, refs: list[str], config: EvalConfig, name: str
) -> tuple[EvalRun, Path]:
    from evals.builtin import resolve_suites
    from evals.runner import run_suites
    from evals.runs import save_run

    suites, skipped = resolve_suites(refs, shared=settings.shared_data)
    for part, why in skipped.items():
        err.print(f"[yellow]skipped {part}:[/yellow] {why}")
    if not suites:
        raise typer.BadParameter("nothing to run: every part was skipped")
    run = run_suites(
        suites,
        config,
        _components(settings, config),
        name=name,
        suite_ref="+".join(refs),
        skipped=skipped,
    )
    return run, save_run(run, settings.eval_runs_path)


def _print_run(run: EvalRun) -> None:
    table = Table(title=f"{run.run_id} ({run.wall_s:.1f} s)")
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    table.add_column("n", justify="right")
    for key, metric in run.headline().items():
        table.add_row(key, metric.display(), str(metric.n))
    console.print(table)


@eval_app.command("import")
def eval_import(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help=" | ".join(IMPORT_SOURCES))],
    out: Annotated[Path | None, typer.Option(help="suite file to write")] = None,
    root: Annotated[
        Path | None, typer.Option(help="shared data folder (CASEBOOK_SHARED_DATA)")
    ] = None,
    demo_dir: Annotated[Path | None, typer.Option(help="demo folder")] = None,
    holdout: Annotated[int, typer.Option(help="demo: latest cases as examples")] = 100,
    distractors: Annotated[
        int | None, typer.Option(help="gitbugs: only linked bugs plus N others")
    ] = None,
    examples: Annotated[int, typer.Option(help="endava: latest tickets as examples")] = 2000,
    corpus: Annotated[int | None, typer.Option(help="endava: tickets before them")] = None,
    stride: Annotated[int, typer.Option(help="endava: keep every n-th ticket")] = 1,
) -> None:
    """Write a labelled suite (JSONL, docs/evals.md) from the demo data or a real set."""
    from evals import importers
    from evals.suite import write_suite

    settings = container_of(ctx).settings
    shared = root or settings.shared_data
    if source not in IMPORT_SOURCES:
        raise typer.BadParameter(f"source must be one of {', '.join(IMPORT_SOURCES)}")
    with friendly_errors():
        if source == "demo":
            suite = importers.import_demo(demo_dir or importers.DEMO_DIR, holdout=holdout)
        elif source == "gitbugs":
            suite = importers.import_gitbugs(shared, distractors=distractors)
        elif source == "alerts":
            suite = importers.import_alerts(shared)
        else:
            suite = importers.import_endava(shared, examples=examples, corpus=corpus, stride=stride)
        path = write_suite(suite, out or settings.data_dir / "evals" / "suites" / f"{source}.jsonl")
    tasks: dict[str, int] = {}
    for example in suite.examples:
        for task in example.labels.tasks():
            tasks[task] = tasks.get(task, 0) + 1
    console.print(
        f"wrote {path}: {len(suite.examples)} examples "
        f"({', '.join(f'{t} {n}' for t, n in sorted(tasks.items()))})"
    )


@eval_app.command("run")
def eval_run(
    ctx: typer.Context,
    suites: Annotated[
        list[str],
        typer.Argument(
            help="suite files or builtin names (demo, ci, gitbugs, alerts, endava, real)"
        ),
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="eval config (TOML or JSON)", exists=True)
    ] = None,
    name: Annotated[str | None, typer.Option(help="a name for the run")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the run file path as JSON")
    ] = False,
) -> None:
    """Run suites against a configuration and store the run with every result."""
    settings = container_of(ctx).settings
    with friendly_errors():
        cfg = load_config(config).resolved(settings)
        run, path = _run(settings, suites, cfg, name or "+".join(Path(s).stem for s in suites))
    _print_run(run)
    console.print(f"stored {path}")
    if as_json:
        print(json.dumps({"run_id": run.run_id, "path": str(path), "wall_s": run.wall_s}))


@eval_app.command("compare")
def eval_compare(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(help="run file, run id (prefix) or 'latest'")],
    run_b: Annotated[str, typer.Argument(help="run file, run id (prefix) or 'latest'")],
    all_metrics: Annotated[
        bool, typer.Option("--all", help="every metric, not only tracked")
    ] = False,
    flips: Annotated[int, typer.Option(help="flipped cases to list")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Metric deltas of B against A with intervals, a paired test and the flipped cases."""
    from evals.compare import compare_runs
    from evals.runs import find_run

    directory = container_of(ctx).settings.eval_runs_path
    with friendly_errors():
        a, b = find_run(run_a, directory), find_run(run_b, directory)
        result = compare_runs(a, b)
    if as_json:
        print(result.model_dump_json())
        return
    for part, changed in sorted(result.data_changed.items()):
        if changed:
            err.print(f"[yellow]data of {part} differs between the runs[/yellow]")
    table = Table(title=f"{b.run_id} vs {a.run_id}")
    for col in ("metric", "A", "B", "Δ", "Δ 95%", "p", "test"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for d in result.deltas:
        tracked = (d.a and d.a.headline) or (d.b and d.b.headline)
        if not (all_metrics or tracked):
            continue
        table.add_row(
            d.key,
            d.a.display() if d.a else "—",
            d.b.display() if d.b else "—",
            f"{d.delta:+.3f}" if d.delta is not None else d.note,
            f"[{d.delta_ci[0]:+.3f}, {d.delta_ci[1]:+.3f}]" if d.delta_ci else "",
            (f"{d.p_value:.3f}" + (" *" if d.significant else "")) if d.p_value is not None else "",
            d.test or "",
        )
    console.print(table)
    if result.flips:
        console.print(
            f"{len(result.flips)} cases flipped"
            + (f" (first {flips})" if flips < len(result.flips) else "")
        )
        for f in result.flips[:flips]:
            console.print(
                f"  {f.key} {f.example_id} {f.metric}: {f.a} -> {f.b}"
                f" (truth {f.truth}; A {f.a_predicted}; B {f.b_predicted})"
            )


@eval_app.command("history")
def eval_history(
    ctx: typer.Context,
    metric: Annotated[
        str | None, typer.Option(help="glob on metric keys, e.g. 'demo/routing/*'")
    ] = None,
    suite: Annotated[str | None, typer.Option(help="only runs of this suite")] = None,
    last: Annotated[int, typer.Option(help="the latest N runs")] = 8,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The trend of each tracked metric across stored runs."""
    from evals.history import trends
    from evals.runs import list_runs

    runs = list_runs(container_of(ctx).settings.eval_runs_path)
    if suite:
        runs = [r for r in runs if r.suite == suite]
    runs = runs[-last:]
    found = trends(runs, pattern=metric)
    if as_json:
        print(json.dumps([t.model_dump(mode="json") for t in found]))
        return
    if not runs:
        console.print("no runs yet: `casebook eval run demo`")
        return
    table = Table(title=f"{len(runs)} runs, oldest first")
    table.add_column("metric")
    for run in runs:
        table.add_column(run.run_id[:15], justify="right")
    table.add_column("last Δ", justify="right")
    ids = [r.run_id for r in runs]
    for trend in found:
        by_run = {p.run_id: p.value for p in trend.points}
        cells = [
            f"{by_run[i]:.3f}" if by_run.get(i) is not None else ("n/a" if i in by_run else "—")
            for i in ids
        ]
        change = trend.last_change
        table.add_row(trend.key, *cells, f"{change:+.3f}" if change is not None else "")
    console.print(table)


@eval_app.command("report")
def eval_report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    suite: Annotated[str | None, typer.Option(help="only runs of this suite")] = None,
    run: Annotated[str | None, typer.Option(help="the run to detail (default: latest)")] = None,
) -> None:
    """One self-contained HTML report: trends, confusion, curves, per-queue bars, baselines."""
    from evals.report import render_report
    from evals.runs import find_run, list_runs

    directory = container_of(ctx).settings.eval_runs_path
    with friendly_errors():
        runs = list_runs(directory)
        if suite:
            runs = [r for r in runs if r.suite == suite]
        latest = find_run(run, directory) if run else None
        out.write_text(render_report(runs, latest=latest), encoding="utf-8")
    console.print(f"wrote {out} ({len(runs)} runs)")


@eval_app.command("gate")
def eval_gate(
    ctx: typer.Context,
    baseline: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="baseline run file")],
    run: Annotated[
        str | None, typer.Option(help="candidate run (default: re-run the baseline's suite)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", exists=True, help="default: the baseline's config")
    ] = None,
    tolerance: Annotated[float, typer.Option(help="extra allowed drop, absolute")] = 0.0,
) -> None:
    """Exit 1 when a tracked metric falls below its baseline by more than its interval allows."""
    from evals.gate import gate
    from evals.runs import find_run, load_run

    settings = container_of(ctx).settings
    with friendly_errors():
        base = load_run(baseline)
        if run is not None:
            candidate = find_run(run, settings.eval_runs_path)
        else:
            cfg = (
                load_config(config).resolved(settings)
                if config
                else EvalConfig.model_validate(base.config)
            )
            candidate, path = _run(settings, base.suite.split("+"), cfg, f"gate-{base.name}")
            console.print(f"candidate run stored: {path}")
        result = gate(base, candidate, tolerance=tolerance)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    table = Table(title=f"gate: {candidate.run_id} against {base.run_id}")
    for col in ("metric", "baseline", "candidate", "allowed ≥/≤", "status"):
        table.add_column(col, justify="left" if col in ("metric", "status") else "right")
    for check in sorted(result.checks, key=lambda c: (c.status != "fail", c.key)):
        style = {"fail": "red", "pass": "green", "skipped": "yellow"}[check.status]
        table.add_row(
            check.key,
            f"{check.baseline:.4f}" if check.baseline is not None else "n/a",
            f"{check.candidate:.4f}" if check.candidate is not None else "n/a",
            f"{check.limit:.4f}" if check.limit is not None else "",
            f"[{style}]{check.status}[/{style}] {check.reason}",
        )
    console.print(table)
    for problem in result.problems:
        err.print(f"[red]gate:[/red] {problem}")
    if not result.passed:
        err.print(
            f"[red]gate failed:[/red] {len(result.failures)} metric(s) regressed, "
            f"{len(result.problems)} part problem(s); see docs/evals.md"
        )
        raise typer.Exit(1)
    passed = sum(c.status == "pass" for c in result.checks)
    console.print(f"[green]gate passed[/green]: {passed} tracked metrics")


@eval_app.command("export-reviews")
def eval_export_reviews(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="suite file to write")],
    cases: Annotated[
        Path | None, typer.Option(help="past cases to index for the suite (JSONL/CSV)")
    ] = None,
    runbooks: Annotated[Path | None, typer.Option(help="runbook folder to index")] = None,
    name: Annotated[str, typer.Option(help="suite name")] = "reviews",
) -> None:
    """Accepted and edited drafts from the service database as a labelled suite (golden set)."""
    from evals.importers import reviewed_drafts, suite_from_reviews
    from evals.suite import CorpusSource, write_suite

    c = container_of(ctx)
    corpus = [CorpusSource(kind="cases", path=str(cases.resolve()))] if cases else []
    if runbooks:
        corpus.append(CorpusSource(kind="runbooks", path=str(runbooks.resolve())))
    with friendly_errors():
        records = reviewed_drafts(c.database)
        suite = suite_from_reviews(records, corpus, name=name)
        path = write_suite(suite, out)
    rejected = sum(r.action == "rejected" for r in records)
    console.print(
        f"wrote {path}: {len(suite.examples)} examples from {len(records)} reviews "
        f"({rejected} rejections give no labels)"
    )
