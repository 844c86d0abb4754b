"""Draft-based systems: the retrieval-only and LLM triage drafts of each example, scored
for hypotheses (lexical proxy, LLM judge), priority, routing, responses and provenance."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain import Case
from evals.judge import RESPONSE_CRITERIA, Judge
from evals.lexical_proxy import lexical_hit
from evals.runs import CaseResult, MetricValue, summarise
from evals.scoring import Prediction, Scored, count_metric
from evals.suite import Example
from triage.draft import TriageDraft
from triage.engine import TriageEngine

Say = Callable[[str], None]


@dataclass
class Drafted:
    """One example and its draft by one system."""

    example: Example
    case: Case
    draft: TriageDraft


def draft_all(
    engine: TriageEngine, items: Sequence[tuple[Example, Case]], say: Say, label: str
) -> list[Drafted]:
    """Triage each (example, prepared case) with the engine; it always returns a draft."""
    out = []
    for i, (example, case) in enumerate(items, start=1):
        out.append(Drafted(example, case, engine.triage(case)))
        if i % 25 == 0 or i == len(items):
            say(f"{label}: {i}/{len(items)} drafted")
    return out


def predictions(drafts: Sequence[Drafted], task: str) -> list[Prediction]:
    """The draft's queue (with its confidence) or priority level, for labelled examples."""
    rows = []
    for d in drafts:
        labels = d.example.labels
        if task == "routing" and labels.queue:
            rows.append(
                Prediction(
                    d.example.id,
                    labels.queue,
                    d.draft.routing.queue,
                    d.draft.routing.confidence,
                    _fallback(d.draft),
                )
            )
        elif task == "priority" and labels.priority:
            rows.append(
                Prediction(
                    d.example.id, labels.priority, d.draft.priority.level, None, _fallback(d.draft)
                )
            )
    return rows


def _fallback(draft: TriageDraft) -> str:
    reason = draft.provenance.fallback_reason
    return f"fallback: {reason}"[:200] if reason else ""


def score_hypotheses(
    key: str,
    drafts: Sequence[Drafted],
    *,
    threshold: float,
    judge: Judge | None,
    n_resamples: int,
) -> Scored:
    """Lexical-proxy hit rate always; the judge's hit rate (N repeats, spread) when given."""
    part, task, system = key.split("/")
    out = Scored()
    labelled = [d for d in drafts if d.example.labels.root_cause]
    if not labelled:
        return out
    per_repeat: list[list[float | None]] = []
    for d in labelled:
        reference = d.example.labels.root_cause or ""
        statements = [h.statement for h in d.draft.hypotheses]
        hit, overlap = lexical_hit(statements, reference, threshold)
        values: dict[str, float | None] = {
            "lexical_hit_rate": None if hit is None else float(hit),
            "lexical_overlap": overlap,
        }
        if judge is not None:
            verdicts = judge.hypotheses(d.case.text, statements, reference)
            marks = [None if v is None else float(v.matches) for v in verdicts]
            per_repeat.append(marks)
            present = [m for m in marks if m is not None]
            values["judge_hit_rate"] = statistics.fmean(present) if present else None
        out.cases.append(
            CaseResult(
                part=part,
                task=task,
                system=system,
                example_id=d.example.id,
                truth=reference[:300],
                predicted=[s[:300] for s in statements[:5]],
                values=values,
            )
        )
    for name in ("lexical_hit_rate", "lexical_overlap"):
        out.metrics[f"{key}/{name}"] = summarise(
            [c.values[name] for c in out.cases],
            per_case=name,
            headline=name == "lexical_hit_rate",
            n_resamples=n_resamples,
        )
    if judge is not None:
        metric = summarise(
            [c.values["judge_hit_rate"] for c in out.cases],
            per_case="judge_hit_rate",
            headline=True,
            n_resamples=n_resamples,
        )
        metric.spread = _repeat_means(per_repeat)
        out.metrics[f"{key}/judge_hit_rate"] = metric
    return out


def score_responses(
    key: str, drafts: Sequence[Drafted], *, judge: Judge, n_resamples: int
) -> Scored:
    """Rubric scores (1-5) of each draft's customer response, N repeats with their spread."""
    part, task, system = key.split("/")
    out = Scored()
    per_criterion: dict[str, list[list[float | None]]] = {c: [] for c in RESPONSE_CRITERIA}
    for d in drafts:
        evidence = (
            "\n".join(f"[{r.id}] {r.title} {r.heading}".strip() for r in d.draft.similar_cases)
            + "\n"
            + "\n".join(f"[{r.id}] {r.title} {r.heading}" for r in d.draft.related_runbooks)
        )
        verdicts = judge.response(
            d.case.text, d.draft.customer_response, evidence, d.example.labels.reference_response
        )
        values: dict[str, float | None] = {}
        for criterion in RESPONSE_CRITERIA:
            marks = [None if v is None else float(getattr(v, criterion)) for v in verdicts]
            per_criterion[criterion].append(marks)
            present = [m for m in marks if m is not None]
            values[criterion] = statistics.fmean(present) if present else None
        out.cases.append(
            CaseResult(
                part=part,
                task=task,
                system=system,
                example_id=d.example.id,
                predicted=d.draft.customer_response[:500],
                values=values,
            )
        )
    for criterion in RESPONSE_CRITERIA:
        metric = summarise(
            [c.values[criterion] for c in out.cases],
            per_case=criterion,
            headline=True,
            n_resamples=n_resamples,
        )
        metric.spread = _repeat_means(per_criterion[criterion])
        out.metrics[f"{key}/{criterion}"] = metric
    return out


def _repeat_means(per_case: list[list[float | None]]) -> list[float]:
    """The metric as each repeat alone would have measured it."""
    if not per_case:
        return []
    repeats = len(per_case[0])
    means = []
    for r in range(repeats):
        present = [marks[r] for marks in per_case if marks[r] is not None]
        if present:
            means.append(round(statistics.fmean(v for v in present if v is not None), 6))
    return means


def score_provenance(key: str, drafts: Sequence[Drafted], *, llm: bool, n_resamples: int) -> Scored:
    """Citation validity and latency per draft; for LLM drafts also fallbacks, parse
    failures, tokens and cost."""
    out = Scored()
    if not drafts:
        return out
    n = len(drafts)
    cited = valid = 0
    per_case_validity: list[float | None] = []
    fallbacks = parse_failures = 0
    for d in drafts:
        prov = d.draft.provenance
        if llm and prov.mode != "llm":
            # A fallback draft's citations are retrieval's, not the model's.
            fallbacks += 1
            if "llm_output_invalid" in (prov.fallback_reason or ""):
                parse_failures += 1
            continue
        given = set(prov.evidence_ids)
        ids = [c.id for h in d.draft.hypotheses for c in h.evidence]
        ok = sum(1 for i in ids if i in given)
        total = len(ids) + prov.dropped_citations
        cited += total
        valid += ok
        per_case_validity.append(ok / total if total else None)
    out.metrics[f"{key}/citation_validity"] = MetricValue(
        value=valid / cited if cited else None,
        ci=summarise(per_case_validity, n_resamples=n_resamples).ci,
        n=sum(1 for v in per_case_validity if v is not None),
        missing=sum(1 for v in per_case_validity if v is None),
        headline=True,
    )
    out.metrics[f"{key}/citations"] = count_metric(cited, n)
    series = [("latency_ms", [d.draft.provenance.latency_ms for d in drafts])]
    if llm:
        out.metrics[f"{key}/fallbacks"] = count_metric(fallbacks, n)
        out.metrics[f"{key}/parse_failures"] = count_metric(parse_failures, n)
        series += [
            ("input_tokens", [float(d.draft.provenance.input_tokens) for d in drafts]),
            ("output_tokens", [float(d.draft.provenance.output_tokens) for d in drafts]),
            ("cost_usd", [d.draft.provenance.cost_usd for d in drafts]),
        ]
    for name, values in series:
        out.metrics[f"{key}/{name}"] = summarise(
            values, n_resamples=n_resamples, higher_is_better=False
        )
    return out
