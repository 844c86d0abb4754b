"""`casebook search`, `similar` and `stats`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from cli.app import (
    app,
    console,
    container_of,
    friendly_errors,
)
from core.domain import DocKind
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit, SearchQuery


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


def print_hits(hits: list[SearchHit], as_json: bool) -> None:
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
    with friendly_errors():
        hits = container_of(ctx).searcher.search(query)
    print_hits(hits, as_json)


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
    with friendly_errors():
        hits = container_of(ctx).searcher.similar_cases(case_id, k, before_creation=before_creation)
    print_hits(hits, as_json)


@app.command()
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What is indexed: documents, chunks and vectors per kind."""
    with friendly_errors():
        data = container_of(ctx).index.stats()
    if as_json:
        console.print_json(json.dumps(data))
        return
    table = Table(title=f"Casebook index in {container_of(ctx).settings.data_dir}")
    for col in ("kind", "documents", "chunks", "vectors"):
        table.add_column(col)
    for kind in ("cases", "runbooks"):
        table.add_row(kind, *(str(data[kind][c]) for c in ("documents", "chunks", "vectors")))
    console.print(table)
    console.print(
        f"embedder {data['embedder']} · vectors {data['vector_store']} · lexical {data['lexical']}"
    )
