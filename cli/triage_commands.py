"""`casebook triage`: draft a case from text, a file or an indexed case."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cli.app import (
    app,
    console,
    container_of,
    friendly_errors,
)
from core.domain import Case
from triage.draft import TriageDraft


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
    c = container_of(ctx)
    with friendly_errors():
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
