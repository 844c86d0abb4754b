"""`casebook router train|report`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.app import (
    app,
    console,
    container_of,
    err,
    friendly_errors,
)
from service.container import Container

router_app = typer.Typer(no_args_is_help=True, help="The learned queue router.")
app.add_typer(router_app, name="router")


@router_app.command("train")
def router_train(ctx: typer.Context) -> None:
    """Train the queue router on every indexed past case with a queue (reviews included)."""
    from triage.router import train_from_cases

    c = container_of(ctx)
    with friendly_errors():
        labelled = {case.id: case for case in c.index.iter_cases() if case.queue}
        # Engineers' reviews win: an accepted or corrected queue is the label to learn.
        reviewed = c.cases.labelled_cases()
        labelled.update({case.id: case for case in reviewed})
        cases = list(labelled.values())
        if len(cases) < 10:
            err.print(f"[red]error:[/red] only {len(cases)} cases with a queue; need 10+")
            raise typer.Exit(1)
        with console.status(f"training on {len(cases)} cases…"):
            router = train_from_cases(cases, c.index.embedder)
            path = router.save(c.settings.router_path)
    console.print(
        f"[green]trained[/green] on {len(cases)} cases ({len(reviewed)} from reviews) -> {path}"
    )
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

    c = container_of(ctx)
    with friendly_errors():
        if not c.settings.router_path.exists():
            err.print("[yellow]no router trained yet:[/yellow] run `casebook router train`")
            raise typer.Exit(1)
        manifest = read_manifest(c.settings.router_path)
    if as_json:
        print(json.dumps(manifest, default=str))
    else:
        _print_router(manifest, c)
