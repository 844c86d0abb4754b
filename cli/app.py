"""The `casebook` Typer app, its settings callback and helpers shared by the commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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

from core.errors import CasebookError
from core.offline import configure_offline_env
from core.settings import Settings
from service.container import Container

app = typer.Typer(
    no_args_is_help=True, help="Casebook: AI-assisted triage for support engineering."
)
ingest_app = typer.Typer(no_args_is_help=True, help="Load runbooks and past cases.")
eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval and triage quality.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(eval_app, name="eval")

console = Console()
err = Console(stderr=True)


@contextmanager
def friendly_errors() -> Iterator[None]:
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


def container_of(ctx: typer.Context) -> Container:
    """The Container the settings callback put on the context."""
    obj = ctx.obj
    assert isinstance(obj, Container)
    return obj


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Any]:
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
