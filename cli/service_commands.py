"""`casebook serve`, `casebook worker` and `casebook keys ...`: running the service."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.app import app, console, container_of, err, friendly_errors
from core.domain import Case

keys_app = typer.Typer(no_args_is_help=True, help="API keys and their roles.")
app.add_typer(keys_app, name="keys")
DEMO_CASES = Path(__file__).resolve().parents[1] / "demo" / "cases.jsonl"


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8080,
    workers: Annotated[
        int | None, typer.Option(help="in-process worker threads (default: settings)")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="create an admin key and triage the demo's new cases")
    ] = False,
) -> None:
    """Run the API with its in-process worker (uvicorn)."""
    import uvicorn

    from api.app import create_app

    c = container_of(ctx)
    if workers is not None:
        c.settings.worker_threads = workers
    with friendly_errors():
        c.database  # noqa: B018 - migrate now, so a bad database URL fails before listening
        if demo:
            _demo_intake(c, host, port)
    uvicorn.run(
        create_app(container=c),
        host=host,
        port=port,
        log_config=None,  # our JSON logging, set up in the app lifespan
        access_log=False,  # the request-context middleware logs requests without PII
    )


def _demo_intake(c: object, host: str, port: int) -> None:
    from service.container import Container

    assert isinstance(c, Container)
    secret, key = c.api_keys.create("admin", "demo admin")
    queued = 0
    for line in DEMO_CASES.read_text(encoding="utf-8").splitlines():
        case = Case.model_validate_json(line)
        if case.status == "new":
            status, _ = c.cases.create(case, actor="demo")
            queued += status == 202
    url = f"http://{host}:{port}"
    console.rule("[bold]Casebook is starting")
    console.print(f"API:      {url}/docs   (OpenAPI at {url}/openapi.json)")
    console.print(f"API key:  [bold]{secret}[/bold]   (role admin, id {key.id}; shown once)")
    console.print(f"Demo:     {queued} new demo cases queued for triage")
    console.print(f"Try:      curl -s -H 'Authorization: Bearer {secret}' '{url}/v1/cases?limit=3'")
    console.rule()


@app.command()
def worker(
    ctx: typer.Context,
    threads: Annotated[int, typer.Option(help="worker threads in this process")] = 1,
    once: Annotated[bool, typer.Option("--once", help="drain due jobs, then exit")] = False,
) -> None:
    """Run triage and ingest jobs from the database, apart from the API process."""
    from api.request_context import configure_json_logging

    c = container_of(ctx)
    configure_json_logging(c.settings.log_level)
    with friendly_errors():
        w = c.worker()
        if once:
            n = 0
            while w.run_once():
                n += 1
            console.print(f"ran {n} jobs")
            return
        stop = threading.Event()

        def on_signal(_signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        w.start(threads)
        err.print(f"worker {w.worker_id} running {threads} thread(s); Ctrl-C to stop")
        stop.wait()
        w.stop()


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="admin, engineer, kb_author or integration")],
    name: Annotated[str, typer.Option(help="who or what uses the key")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create an API key; the secret is printed once and only its hash is stored."""
    c = container_of(ctx)
    with friendly_errors():
        secret, record = c.api_keys.create(role, name or role)
    if as_json:
        print(json.dumps({"id": record.id, "role": record.role, "secret": secret}))
        return
    console.print(f"key [bold]{record.id}[/bold] role {record.role}")
    console.print(f"secret (shown once): [bold]{secret}[/bold]")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List API keys (never their secrets)."""
    c = container_of(ctx)
    with friendly_errors():
        records = c.api_keys.list()
    table = Table(title="API keys")
    for col in ("id", "name", "role", "created", "revoked"):
        table.add_column(col)
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else ""
        table.add_row(r.id, r.name, r.role, r.created_at.isoformat(timespec="seconds"), revoked)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke an API key."""
    c = container_of(ctx)
    with friendly_errors():
        c.api_keys.revoke(key_id)
    console.print(f"revoked {key_id}")
