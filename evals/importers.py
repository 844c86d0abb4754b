"""Importers into the suite format: the demo data, the real sets in `../shared/data`, and
reviewed drafts ("golden set from production").

Every importer is deterministic: the same input files give the same suite, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.domain import Case
from core.errors import EvalError, RecordError
from evals.gitbugs import read_duplicate_links
from evals.runbook_alerts import alert_query, load_alerts
from evals.suite import (
    PRIORITIES,
    CorpusSource,
    Example,
    Labels,
    Suite,
    SuiteHeader,
    as_filed,
)
from kb_ingest.case_readers import read_cases
from kb_ingest.runbook_reader import read_runbooks
from storage.db import Database

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = PROJECT_ROOT / "demo"
SHARED_ENV = "CASEBOOK_SHARED_DATA"
# Endava tickets carry no dates: their original row order stands in for filing order.
ENDAVA_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
ALERTS_FILED = datetime(2026, 1, 1, tzinfo=UTC)


def _cases(path: Path, fmt: str, mapping: str | None = None) -> list[Case]:
    cases = [
        c for c in read_cases(path, fmt=fmt, mapping=mapping) if not isinstance(c, RecordError)
    ]
    if not cases:
        raise EvalError(f"no cases could be read from {path}", path=str(path))
    return cases


def _need(path: Path) -> Path:
    if not path.exists():
        raise EvalError(f"{path} does not exist (set {SHARED_ENV} or pass --root)", path=str(path))
    return path


# -- demo ---------------------------------------------------------------------------------
def import_demo(demo_dir: Path = DEMO_DIR, *, holdout: int = 100, name: str = "demo") -> Suite:
    """The latest `holdout` demo cases as examples; the whole demo data as corpus.

    Labels: queue and priority where triaged, root cause and linked runbooks where resolved,
    `duplicate_of` for re-filed cases, and `covered` from the topic (a topic no case of
    which links a runbook is a KB gap). `metadata.topic` is read here, never by triage.
    """
    cases_path = _need(demo_dir / "cases.jsonl")
    cases = sorted(_cases(cases_path, "jsonl"), key=lambda c: (c.created_at, c.id))
    topic_linked: dict[str, bool] = {}
    for case in cases:
        topic = str(case.metadata.get("topic") or "")
        if topic:
            topic_linked[topic] = topic_linked.get(topic, False) or bool(case.linked_runbooks)
    examples = []
    for case in cases[-holdout:] if holdout > 0 else []:
        topic = str(case.metadata.get("topic") or "")
        duplicate = case.metadata.get("duplicate_of")
        labels = Labels(
            queue=case.queue or None,
            priority=case.priority if case.priority in PRIORITIES else None,  # type: ignore[arg-type]
            duplicate_of=[str(duplicate)] if duplicate else None,
            relevant_runbooks=list(case.linked_runbooks) or None,
            root_cause=case.root_cause or None,
            covered=topic_linked.get(topic) if topic else None,
        )
        examples.append(Example(id=case.id, case=as_filed(case), labels=labels, source="demo"))
    header = SuiteHeader(
        name=name,
        description=f"Ledgerline demo data: the latest {len(examples)} of {len(cases)} cases "
        "triaged as new against everything filed before them, and the demo runbooks.",
        made_by=f"casebook eval import demo --holdout {holdout}",
        corpus=[
            CorpusSource(kind="cases", path=str(cases_path.resolve()), format="jsonl"),
            CorpusSource(kind="runbooks", path=str((demo_dir / "runbooks").resolve())),
        ],
    )
    return Suite(header=header, examples=examples)


# -- GitBugs Hadoop duplicates ------------------------------------------------------------
def _raw_id(case_id: str) -> str:
    return case_id.rsplit("-", 1)[-1]


def import_gitbugs(
    root: Path,
    *,
    distractors: int | None = None,
    seed: int = 13,
    name: str = "gitbugs",
) -> Suite:
    """Each bug with an earlier duplicate is an example; every bug is in the corpus, or,
    with `distractors`, the linked bugs plus that many others drawn with a fixed seed."""
    bugs = _need(root / "gitbugs-hadoop" / "bugs.csv")
    duplicates = _need(root / "gitbugs-hadoop" / "duplicates.csv")
    cases = _cases(bugs, "csv", "gitbugs")
    links = read_duplicate_links(duplicates)
    by_raw = {_raw_id(c.id): c for c in cases}
    ids: list[str] | None = None
    if distractors is not None:
        linked = sorted(c.id for c in cases if _raw_id(c.id) in links)
        others = sorted(c.id for c in cases if _raw_id(c.id) not in links)
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(others), size=min(distractors, len(others)), replace=False)
        ids = sorted({*linked, *(others[int(i)] for i in picked)})
    examples = []
    for case in sorted(cases, key=lambda c: (c.created_at, c.id)):
        earlier = sorted(
            by_raw[r].id
            for r in links.get(_raw_id(case.id), ())
            if r in by_raw and by_raw[r].created_at < case.created_at
        )
        if earlier:
            examples.append(
                Example(
                    id=case.id,
                    case=as_filed(case),
                    labels=Labels(duplicate_of=earlier),
                    source="gitbugs-hadoop",
                )
            )
    subset = f" --distractors {distractors}" if distractors is not None else ""
    header = SuiteHeader(
        name=name,
        description="GitBugs Hadoop: each bug with an earlier duplicate, ranked against the "
        "bugs filed before it"
        + (f" (linked bugs plus {distractors} fixed-seed distractors)" if ids else "."),
        made_by=f"casebook eval import gitbugs{subset}",
        corpus=[
            CorpusSource(
                kind="cases", path=str(bugs.resolve()), format="csv", mapping="gitbugs", ids=ids
            )
        ],
    )
    return Suite(header=header, examples=examples)


# -- Prometheus alerts and runbooks -------------------------------------------------------
def import_alerts(root: Path, *, name: str = "alerts") -> Suite:
    """Each alert is an incoming case (its text without the alert name); its runbook is the
    relevant one, and an alert without a runbook is a real "not covered" example."""
    folder = _need(root / "prometheus-runbooks")
    alerts = load_alerts(_need(folder / "alerts.json"))
    by_path = {
        r.metadata.get("path", r.source): r.id
        for r in read_runbooks(folder)
        if not isinstance(r, RecordError)
    }
    examples = []
    seen: Counter[str] = Counter()
    for alert in alerts:
        alert_name = str(alert.get("alert") or "alert")
        seen[alert_name] += 1
        ex_id = f"alert-{alert_name}" + (f"-{seen[alert_name]}" if seen[alert_name] > 1 else "")
        target = alert.get("runbook_path")
        runbook = by_path.get(str(target)) if target else None
        if target and runbook is None:
            raise EvalError(f"alert {alert_name} names {target}, which was not read")
        case = Case(
            id=ex_id,
            body=alert_query(alert),
            created_at=ALERTS_FILED,
            product=str(alert.get("group") or "") or None,
            tags=[f"severity:{alert['severity']}"] if alert.get("severity") else [],
            source="prometheus",
        )
        labels = Labels(relevant_runbooks=[runbook] if runbook else None, covered=bool(runbook))
        examples.append(Example(id=ex_id, case=case, labels=labels, source="kube-prometheus"))
    header = SuiteHeader(
        name=name,
        description="kube-prometheus alerts (alert name removed) against the prometheus-operator "
        "runbooks; alerts without a runbook are KB gaps.",
        made_by="casebook eval import alerts",
        corpus=[CorpusSource(kind="runbooks", path=str(folder.resolve()))],
    )
    return Suite(header=header, examples=examples)


# -- Endava tickets -----------------------------------------------------------------------
def import_endava(
    root: Path,
    *,
    examples: int = 2000,
    corpus: int | None = None,
    stride: int = 1,
    name: str = "endava",
) -> Suite:
    """Routing on Endava tickets: the latest `examples` rows (by original row index, the
    only order the data has) against the `corpus` rows before them (all, if None).

    `stride` keeps every n-th row first (a fixed, spread-out subset). The tickets have no
    dates, so row i is given the time 2020-01-01 + i minutes; no priorities exist.
    """
    tickets = _need(root / "endava-it-tickets" / "tickets.csv")
    rows = [c for c in _cases(tickets, "csv", "endava") if c.queue]

    def index(case: Case) -> int:
        tail = _raw_id(case.id)
        return int(tail) if tail.isdigit() else 0

    ordered = sorted(rows, key=lambda c: (index(c), c.id))[:: max(1, stride)]
    dated = [
        c.model_copy(update={"created_at": ENDAVA_EPOCH + timedelta(minutes=index(c))})
        for c in ordered
    ]
    if len(dated) <= examples:
        raise EvalError(f"{tickets}: {len(dated)} tickets, need more than {examples}")
    test, train = dated[-examples:], dated[:-examples]
    if corpus is not None:
        train = train[-corpus:]
    header = SuiteHeader(
        name=name,
        description=f"Endava IT tickets: routing of the latest {len(test)} tickets (row order) "
        f"by what was learnt from the {len(train)} before them.",
        made_by=f"casebook eval import endava --examples {examples}"
        + (f" --corpus {corpus}" if corpus is not None else "")
        + (f" --stride {stride}" if stride > 1 else ""),
    )
    exs = [
        Example(id=c.id, case=as_filed(c), labels=Labels(queue=c.queue), source="endava")
        for c in test
    ]
    return Suite(header=header, examples=exs, inline_cases=train)


# -- reviewed drafts (the seam for `casebook eval export-reviews`) -------------------------
class ReviewedDraft(BaseModel):
    """A draft an engineer reviewed: what Casebook proposed and what the engineer kept."""

    model_config = ConfigDict(extra="forbid")

    case: Case
    draft_queue: str | None = None
    draft_priority: str | None = None
    draft_response: str | None = None
    action: Literal["accepted", "edited", "rejected"]
    corrected_queue: str | None = None
    corrected_priority: str | None = None
    corrected_response: str | None = None
    reviewed_at: datetime | None = None
    reviewer: str | None = Field(default=None, description="never exported into a suite")


def _final(review: ReviewedDraft, field: str) -> str | None:
    corrected = getattr(review, f"corrected_{field}")
    if corrected:
        return str(corrected)
    # Accepted, or edited without touching this field: the draft's value was kept. A rejected
    # draft's values are known to be wrong and never become labels.
    if review.action in ("accepted", "edited"):
        value = getattr(review, f"draft_{field}")
        return str(value) if value else None
    return None


def examples_from_reviews(records: Iterable[ReviewedDraft]) -> list[Example]:
    """Labelled examples from reviewed drafts; the latest review of a case wins."""
    latest: dict[str, ReviewedDraft] = {}
    for review in records:
        previous = latest.get(review.case.id)
        when = review.reviewed_at or datetime.min.replace(tzinfo=UTC)
        before = (previous.reviewed_at if previous else None) or datetime.min.replace(tzinfo=UTC)
        if previous is None or when >= before:
            latest[review.case.id] = review
    out = []
    for case_id in sorted(latest, key=lambda i: (latest[i].case.created_at, i)):
        review = latest[case_id]
        priority = _final(review, "priority")
        labels = Labels(
            queue=_final(review, "queue"),
            priority=priority if priority in PRIORITIES else None,  # type: ignore[arg-type]
            root_cause=review.case.root_cause or None,
            relevant_runbooks=list(review.case.linked_runbooks) or None,
            reference_response=_final(review, "response"),
        )
        out.append(
            Example(
                id=case_id,
                case=as_filed(review.case),
                labels=labels,
                source=f"review:{review.action}",
            )
        )
    return out


def suite_from_reviews(
    records: Iterable[ReviewedDraft], corpus: Sequence[CorpusSource] = (), name: str = "reviews"
) -> Suite:
    """A suite of reviewed drafts over the given corpus references."""
    examples = examples_from_reviews(records)
    header = SuiteHeader(
        name=name,
        description=f"{len(examples)} reviewed drafts (accepted or corrected by engineers).",
        made_by="casebook eval export-reviews",
        corpus=list(corpus),
    )
    return Suite(header=header, examples=examples)


_ACTIONS = {"accept": "accepted", "edit": "edited", "reject": "rejected"}


def reviewed_drafts(db: Database) -> list[ReviewedDraft]:
    """Every review in the service database as a ReviewedDraft (the golden set's raw form)."""
    from storage import cases as repo

    out: list[ReviewedDraft] = []
    with db.read() as session:
        for review in repo.all_reviews(session):
            record = repo.find_case(session, review.case_id)
            if record is None:
                continue
            drafts = {d.version: d for d in repo.drafts_of(session, review.case_id)}
            draft = drafts.get(review.draft_version)
            # The case as filed: the labels are what the review says, not what it wrote back.
            case = record.case.model_copy(
                update={"queue": None, "priority": None, "resolution": None, "root_cause": None}
            )
            data = review.data
            out.append(
                ReviewedDraft(
                    case=case,
                    draft_queue=data.get("draft_queue"),
                    draft_priority=data.get("draft_priority"),
                    draft_response=(draft.draft.get("customer_response") if draft else None),
                    action=_ACTIONS[review.action],  # type: ignore[arg-type]
                    corrected_queue=review.corrected_queue,
                    corrected_priority=review.corrected_priority,
                    corrected_response=data.get("response") if review.action == "edit" else None,
                    reviewed_at=review.created_at,
                    reviewer=review.reviewer,
                )
            )
    return out
