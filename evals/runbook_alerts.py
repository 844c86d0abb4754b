"""Runbook retrieval eval on Prometheus alerts: alert text is the query, its runbook the answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from casetext.tokens import TokenCounter
from core.errors import EvalError, RecordError
from evals.metrics import ranking_summary
from kb_ingest.pipeline import Ingestor
from kb_ingest.runbook_reader import read_runbooks
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import Embedder
from retrieval.search import FusionWeights, HybridSearcher, SearchMode, SearchQuery

MODES: tuple[SearchMode, ...] = ("hybrid", "bm25", "dense")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")


def render_template(text: str) -> str:
    """Render `{{ $labels.x }}` as `<x>` and any other template (values, printf) as `<value>`."""

    def repl(match: re.Match[str]) -> str:
        label = _LABEL.search(match.group(1))
        return f"<{label.group(1)}>" if label else "<value>"

    return _TEMPLATE.sub(repl, text)


def alert_query(alert: dict[str, Any]) -> str:
    """Summary + description with the alert name removed (it would give the answer away)."""
    text = render_template(f"{alert.get('summary', '')}\n{alert.get('description', '')}")
    name = str(alert.get("alert", ""))
    if name:
        text = re.sub(re.escape(name), " ", text, flags=re.I)
    return " ".join(text.split())


def load_alerts(path: Path) -> list[dict[str, Any]]:
    """Alerts from a JSON list (kube-prometheus rules flattened)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalError(f"cannot read alerts from {path}: {exc}") from exc
    if not isinstance(data, list):
        raise EvalError(f"{path} must hold a JSON list of alerts")
    return [a for a in data if isinstance(a, dict)]


def evaluate_runbooks(
    alerts_path: Path,
    embedder: Embedder,
    counter: TokenCounter,
    *,
    weights: FusionWeights | None = None,
    max_tokens: int = 200,
    overlap_tokens: int = 30,
    k: int = 10,
) -> dict[str, Any]:
    """R@1/5/10 and MRR of finding each alert's runbook among all runbooks under its folder."""
    root = alerts_path.parent
    alerts = load_alerts(alerts_path)
    index = KnowledgeIndex(embedder, MemoryVectorStore(), LexicalIndex(":memory:"))
    ingestor = Ingestor(
        index, redactor=None, counter=counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )
    by_path: dict[str, str] = {}
    items = []
    for record in read_runbooks(root):
        if isinstance(record, RecordError):
            continue
        runbook, chunks, _ = ingestor.prepare_runbook(record)
        items.append((runbook, chunks))
        by_path[record.metadata.get("path", record.source)] = record.id
    index.upsert_runbooks(items)
    searcher = HybridSearcher(index, weights or FusionWeights())
    runs: dict[str, list[tuple[list[str], set[str]]]] = {m: [] for m in MODES}
    for alert in alerts:
        target = alert.get("runbook_path")
        if not target:
            continue  # no runbook covers this alert: a coverage-gap case, not a retrieval one
        answer = by_path.get(str(target))
        if answer is None:
            raise EvalError(f"alert {alert.get('alert')} names {target}, which was not read")
        for mode in MODES:
            hits = searcher.search(
                SearchQuery(text=alert_query(alert), kind="runbook", k=k, mode=mode)
            )
            runs[mode].append(([h.doc_id for h in hits], {answer}))
    if not runs["hybrid"]:
        raise EvalError("no alert names a runbook")
    return {"n_queries": len(runs["hybrid"]), **{m: ranking_summary(runs[m]) for m in MODES}}
