"""`casebook`: ingest, search, triage and evaluate from the command line.

Commands live in modules by concept; importing them registers them on the one Typer app.
"""

from cli import (  # noqa: F401 - imported for their command registrations
    coverage_commands,
    eval_commands,
    eval_suite_commands,
    ingest_commands,
    llm_commands,
    router_commands,
    search_commands,
    service_commands,
    triage_commands,
)
from cli.app import app

__all__ = ["app"]
