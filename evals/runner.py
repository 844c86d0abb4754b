"""`casebook eval run`: every system of a configuration on every task of a suite, stored.

Time-respecting by construction. Retrieval for an example sees only corpus cases created
before it (a `created_before` filter, the example itself excluded). Trained models (the
router, TF-IDF + LinearSVC, the majority class) learn once, from the corpus cases created
before the earliest example, so nothing they learnt postdates any example. Runbooks carry
no creation date and are the knowledge base as it is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casetext.preparation import prepare_case
from casetext.signatures import extract_signatures
from casetext.tokens import TokenCounter
from core.domain import Case
from core.errors import EvalError
from evals.config import EvalConfig, FusionConfig
from evals.drafting import (
    Drafted,
    draft_all,
    predictions,
    score_hypotheses,
    score_provenance,
    score_responses,
)
from evals.embedding_cache import CachingEmbedder
from evals.judge import (
    AGREEMENT_SET,
    Judge,
    agreement,
    judge_ratings,
    lexical_ratings,
    read_agreement_set,
)
from evals.routing import baseline_predictions
from evals.runs import EvalRun, MetricValue, PartInfo, git_state, new_run_id
from evals.scoring import (
    GapCall,
    Prediction,
    Ranking,
    Scored,
    score_classification,
    score_coverage,
    score_ranking,
)
from evals.suite import Example, Suite, as_filed, earliest
from kb_ingest.pipeline import Ingestor
from retrieval.filters import SearchFilters
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from retrieval.protocols import Embedder
from retrieval.search import HybridSearcher, SearchMode, SearchQuery
from triage.engine import DraftWriter, TriageEngine
from triage.evidence import gather_evidence
from triage.router import QueueRouter, RouterConfig
from triage.routing import route

MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")
Say = Callable[[str], None]


@dataclass
class Components:
    """What a run needs from outside: built by the CLI from settings, fakes in tests."""

    embedder: Embedder
    counter: TokenCounter = field(default_factory=TokenCounter)
    # Builds the LLM draft writer for a suite's allowed queues (name -> description).
    writer_factory: Callable[[Mapping[str, str]], DraftWriter] | None = None
    judge: Judge | None = None
    # Queue descriptions for the LLM (the queues file); which queues exist is per suite.
    queues: Mapping[str, str] | None = None
    model: str | None = None
    prompt_version: str | None = None
    chunk_max_tokens: int = 200
    chunk_overlap_tokens: int = 30
    say: Say = field(default=lambda _msg: None)


@dataclass
class _Part:
    """The per-suite state shared by the tasks."""

    suite: Suite
    examples: list[Example]
    prepared: dict[str, Case]
    corpus_cases: dict[str, Case]
    runbook_ids: set[str]
    searcher: HybridSearcher
    embedder: CachingEmbedder
    train: list[Case]
    cutoff: datetime | None
    routers: dict[str, QueueRouter] = field(default_factory=dict)


def run_suites(
    suites: Sequence[Suite],
    config: EvalConfig,
    components: Components,
    *,
    name: str,
    suite_ref: str,
    skipped: Mapping[str, str] | None = None,
    repo: Path | None = None,
) -> EvalRun:
    """Run every suite and return the run (not yet saved)."""
    if config.fusion is None or config.embedder is None:
        raise EvalError("resolve the eval config against the settings first")
    started = time.perf_counter()
    created = datetime.now(UTC)
    commit, dirty = git_state(repo)
    total = Scored()
    parts: list[PartInfo] = []
    for suite in suites:
        info, scored = run_part(suite, config, components)
        parts.append(info)
        total.merge(scored)
    if any("hypotheses" in p.tasks for p in parts):
        info, scored = run_agreement(config, components)
        parts.append(info)
        total.merge(scored)
    return EvalRun(
        run_id=new_run_id(name, created),
        name=name,
        suite=suite_ref,
        created_at=created,
        git_commit=commit,
        git_dirty=dirty,
        config=config.model_dump(mode="json"),
        embedder=components.embedder.name,
        model=components.model,
        prompt_version=components.prompt_version,
        parts=parts,
        skipped_parts=dict(skipped or {}),
        metrics=dict(sorted(total.metrics.items())),
        details=total.details,
        cases=total.cases,
        wall_s=round(time.perf_counter() - started, 3),
    )


def run_part(suite: Suite, config: EvalConfig, components: Components) -> tuple[PartInfo, Scored]:
    """Index the suite's corpus, train on its past, and score every labelled task."""
    started = time.perf_counter()
    say = components.say
    corpus = suite.load_corpus()
    examples = suite.examples[: config.max_examples] if config.max_examples else suite.examples
    if not examples:
        raise EvalError(f"suite {suite.name} has no examples")
    tasks: list[str] = sorted({t for e in examples for t in e.labels.tasks()})
    say(
        f"{suite.name}: {len(examples)} examples, {len(corpus.cases)} past cases, "
        f"{len(corpus.runbooks)} runbooks; tasks {', '.join(tasks)}"
    )
    part = _build(suite, examples, corpus.cases, corpus.runbooks, config, components)
    scored = Scored()
    if "routing" in tasks:
        scored.merge(_classification(part, "routing", config, components))
    if "priority" in tasks:
        scored.merge(_classification(part, "priority", config, components))
    for task, kind in (("similar_cases", "case"), ("runbooks", "runbook")):
        if task in tasks:
            scored.merge(_retrieval(part, task, kind, config))
    if "coverage" in tasks and config.wants("dense"):
        scored.merge(_coverage(part, config))
    llm_routing = "routing" in tasks and components.writer_factory is not None
    if {"hypotheses", "priority", "response"} & set(tasks) or llm_routing:
        scored.merge(_drafts(part, tasks, config, components))
    info = PartInfo(
        name=suite.name,
        dataset_hash=suite.dataset_hash(corpus, examples),
        source=suite.header.made_by,
        n_examples=len(examples),
        n_corpus_cases=len(corpus.cases),
        n_runbooks=len(corpus.runbooks),
        skipped_records=corpus.skipped,
        tasks=tasks,
        train_cutoff=part.cutoff,
        n_train=len(part.train),
        wall_s=round(time.perf_counter() - started, 3),
    )
    say(f"{suite.name}: done in {info.wall_s:.1f} s")
    return info, scored


def _build(
    suite: Suite,
    examples: list[Example],
    cases: list[Case],
    runbooks: list[Any],
    config: EvalConfig,
    components: Components,
) -> _Part:
    embedder = CachingEmbedder(components.embedder)
    index = KnowledgeIndex(embedder, MemoryVectorStore(), LexicalIndex(":memory:"))
    prepared_corpus = [prepare_case(c, None)[0] for c in cases]
    if prepared_corpus:
        components.say(f"{suite.name}: indexing {len(prepared_corpus)} past cases")
        index.upsert_cases(prepared_corpus)
    runbook_ids: set[str] = set()
    if runbooks:
        components.say(f"{suite.name}: indexing {len(runbooks)} runbooks")
        ingestor = Ingestor(
            index,
            redactor=None,
            counter=components.counter,
            max_tokens=components.chunk_max_tokens,
            overlap_tokens=components.chunk_overlap_tokens,
        )
        items = []
        for runbook in runbooks:
            prepared_rb, chunks, _ = ingestor.prepare_runbook(runbook)
            items.append((prepared_rb, chunks))
            runbook_ids.add(runbook.id)
        index.upsert_runbooks(items)
    fusion = config.fusion or FusionConfig()
    searcher = HybridSearcher(index, fusion.weights(), extract_signatures)
    cutoff = earliest(examples)
    example_ids = {e.id for e in examples}
    train = [
        c
        for c in prepared_corpus
        if cutoff is not None and c.created_at < cutoff and c.id not in example_ids
    ]
    prepared = {e.id: prepare_case(as_filed(e.case), None)[0] for e in examples}
    return _Part(
        suite=suite,
        examples=examples,
        prepared=prepared,
        corpus_cases={c.id: c for c in prepared_corpus},
        runbook_ids=runbook_ids,
        searcher=searcher,
        embedder=embedder,
        train=train,
        cutoff=cutoff,
    )


# -- routing and priority -----------------------------------------------------------------
def _label(example: Example, task: str) -> str | None:
    return example.labels.queue if task == "routing" else example.labels.priority


def _allowed_queues(part: _Part) -> list[str]:
    # A suite defines its own world: its queues are those of its labelled past (a queues
    # file only lends descriptions), so one run can span suites with different queues.
    return sorted({c.queue for c in part.train if c.queue})


def _classification(part: _Part, task: str, config: EvalConfig, components: Components) -> Scored:
    """Majority class, TF-IDF + LinearSVC and the learned router on the task's label; for
    routing also the vote of similar past cases (what triage does without a router)."""
    target = "queue" if task == "routing" else "priority"
    labelled = [e for e in part.examples if _label(e, task)]
    train = [c for c in part.train if getattr(c, target)]
    out = Scored()
    key = f"{part.suite.name}/{task}"
    skipped: dict[str, str] = {}
    n = config.bootstrap_resamples
    if not labelled:
        return out
    truth = {e.id: str(_label(e, task)) for e in labelled}
    texts = [part.prepared[e.id].text for e in labelled]
    if not train:
        skipped["*"] = "no labelled past cases before the earliest example"
    else:
        y_train = [str(getattr(c, target)) for c in train]
        if config.wants("majority"):
            top = Counter(y_train).most_common(1)[0][0]
            share = Counter(y_train)[top] / len(y_train)
            rows = [Prediction(e.id, truth[e.id], top, share) for e in labelled]
            out.merge(score_classification(f"{key}/majority", rows, n_resamples=n))
        if config.wants("tfidf_svc"):
            if len(set(y_train)) < 2:
                skipped["tfidf_svc"] = "one class in the training data"
            else:
                pairs = [(c.text, y) for c, y in zip(train, y_train, strict=True)]
                preds = baseline_predictions(
                    pairs, [(t, "") for t in texts], None, None, only={"word_tfidf_svc"}
                )["word_tfidf_svc"]
                rows = [
                    Prediction(e.id, truth[e.id], str(p))
                    for e, p in zip(labelled, preds, strict=True)
                ]
                out.merge(score_classification(f"{key}/tfidf_svc", rows, n_resamples=n))
        if config.wants("router"):
            components.say(f"{part.suite.name}: training the {target} router on {len(train)}")
            router = _fit_router(part, train, target, config)
            found = router.predict(texts, embeddings=part.embedder.embed(texts))
            rows = [
                Prediction(e.id, truth[e.id], p.queue, p.confidence)
                for e, p in zip(labelled, found, strict=True)
            ]
            out.merge(score_classification(f"{key}/router", rows, n_resamples=n))
    if task == "routing" and config.wants("vote") and part.corpus_cases:
        allowed = _allowed_queues(part)
        rows = []
        for e in labelled:
            case = part.prepared[e.id]
            routing = route(case, gather_evidence(case, part.searcher), None, allowed)
            rows.append(Prediction(e.id, truth[e.id], routing.queue, routing.confidence))
        out.merge(score_classification(f"{key}/vote", rows, n_resamples=n))
    if skipped:
        out.details[f"{key}/skipped_systems"] = skipped
    return out


def _fit_router(part: _Part, train: list[Case], target: str, config: EvalConfig) -> QueueRouter:
    """The router for a target, trained once per part on the labelled past."""
    if target not in part.routers:
        texts = [c.text for c in train]
        labels = [str(getattr(c, target)) for c in train]
        router = QueueRouter(part.embedder, RouterConfig(seed=config.seed), target=target)  # type: ignore[arg-type]
        part.routers[target] = router.fit(texts, labels, embeddings=part.embedder.embed(texts))
    return part.routers[target]


# -- retrieval ----------------------------------------------------------------------------
def _retrieval(part: _Part, task: str, kind: str, config: EvalConfig) -> Scored:
    """Similar past cases (duplicates) or runbooks, by BM25, dense and hybrid search."""
    out = Scored()
    key = f"{part.suite.name}/{task}"
    queries: list[tuple[Example, set[str]]] = []
    unusable = 0
    for e in part.examples:
        wanted = e.labels.duplicate_of if task == "similar_cases" else e.labels.relevant_runbooks
        if not wanted:
            continue
        if kind == "case":
            created = e.case.created_at
            relevant = {
                i
                for i in wanted
                if i in part.corpus_cases and part.corpus_cases[i].created_at < created
            }
        else:
            relevant = {i for i in wanted if i in part.runbook_ids}
        if relevant:
            queries.append((e, relevant))
        else:
            unusable += 1  # nothing relevant existed before it, or ids not in the corpus
    for mode in MODES:
        if not config.wants(mode):
            continue
        rows = []
        for e, relevant in queries:
            case = part.prepared[e.id]
            flt = (
                SearchFilters(created_before=case.created_at) if kind == "case" else SearchFilters()
            )
            hits = part.searcher.search(
                SearchQuery(
                    text=case.text or case.id,
                    kind=kind,  # type: ignore[arg-type]
                    k=10,
                    filters=flt,
                    signatures=case.error_signatures,
                    exclude_ids=[case.id],
                    mode=mode,
                )
            )
            rows.append(Ranking(e.id, [h.doc_id for h in hits], sorted(relevant)))
        out.merge(score_ranking(f"{key}/{mode}", rows, n_resamples=config.bootstrap_resamples))
    out.details[f"{key}/examples"] = {"scored": len(queries), "no_relevant_item": unusable}
    return out


def _coverage(part: _Part, config: EvalConfig) -> Scored:
    """Gap detection ("no runbook covers this") by two systems: the best runbook's dense
    similarity against a plain threshold (the baseline), and kb_coverage's calibrated match
    score (cosine x term coverage) against its shipped threshold (what the product uses)."""
    from kb_coverage.matching import RunbookMatcher

    examples = [e for e in part.examples if e.labels.covered is not None]
    if not examples:
        return Scored()
    matcher = RunbookMatcher(part.searcher.index, weights=part.searcher.weights)
    dense_rows, match_rows = [], []
    for e in examples:
        case = part.prepared[e.id]
        dense_score = match_score = None
        if part.runbook_ids:
            text = case.text or case.id
            hits = part.searcher.search(SearchQuery(text=text, kind="runbook", k=1, mode="dense"))
            dense_score = hits[0].explanation.dense_score if hits else None
            vector = part.searcher.index.embed_query(text)
            match = matcher.match(text, vector, case.error_signatures)
            match_score = match.score if match else None
        dense_rows.append(GapCall(e.id, bool(e.labels.covered), dense_score))
        match_rows.append(GapCall(e.id, bool(e.labels.covered), match_score))
    out = score_coverage(
        f"{part.suite.name}/coverage/dense",
        dense_rows,
        config.coverage_threshold,
        n_resamples=config.bootstrap_resamples,
    )
    out.merge(
        score_coverage(
            f"{part.suite.name}/coverage/match_score",
            match_rows,
            config.match_threshold,
            n_resamples=config.bootstrap_resamples,
        )
    )
    return out


# -- drafts -------------------------------------------------------------------------------
def _drafts(part: _Part, tasks: list[str], config: EvalConfig, components: Components) -> Scored:
    """Retrieval-only drafts of every example (and LLM drafts of the first `llm_limit`)."""
    out = Scored()
    name = part.suite.name
    n = config.bootstrap_resamples
    router = None
    queue_train = [c for c in part.train if c.queue]
    if config.router and queue_train:
        router = _fit_router(part, queue_train, "queue", config)
    allowed = _allowed_queues(part)
    items = [(e, part.prepared[e.id]) for e in part.examples]
    systems: list[tuple[str, list[Drafted]]] = []
    if config.wants("retrieval"):
        engine = TriageEngine(part.searcher, redactor=None, router=router, queues=allowed)
        systems.append(("retrieval", draft_all(engine, items, components.say, f"{name} drafts")))
    if components.writer_factory is not None and config.wants("llm"):
        described = components.queues or {}
        writer = components.writer_factory({q: described.get(q, "") for q in allowed})
        llm = TriageEngine(
            part.searcher, redactor=None, router=router, writer=writer, queues=allowed
        )
        limit = items[: config.llm_limit] if config.llm_limit else items
        systems.append(("llm", draft_all(llm, limit, components.say, f"{name} LLM drafts")))
    judge = components.judge if config.judge else None
    for system, drafts in systems:
        # The retrieval-only draft's priority is the rule-based assessment.
        label = "rules" if system == "retrieval" else system
        if "priority" in tasks:
            rows = predictions(drafts, "priority")
            out.merge(score_classification(f"{name}/priority/{label}", rows, n_resamples=n))
        if system == "llm" and "routing" in tasks:
            rows = predictions(drafts, "routing")
            out.merge(score_classification(f"{name}/routing/llm", rows, n_resamples=n))
        if "hypotheses" in tasks:
            out.merge(
                score_hypotheses(
                    f"{name}/hypotheses/{system}",
                    drafts,
                    threshold=config.overlap_threshold,
                    judge=judge,
                    n_resamples=n,
                )
            )
        if judge is not None and components.writer_factory is not None:
            judged = drafts[: config.llm_limit] if config.llm_limit else drafts
            out.merge(
                score_responses(f"{name}/response/{system}", judged, judge=judge, n_resamples=n)
            )
        out.merge(
            score_provenance(f"{name}/drafts/{system}", drafts, llm=system == "llm", n_resamples=n)
        )
    return out


# -- the judge's agreement with hand labels -----------------------------------------------
def run_agreement(config: EvalConfig, components: Components) -> tuple[PartInfo, Scored]:
    """Agreement of the lexical proxy (always) and the LLM judge (when set) with the
    hand-labelled set."""
    import hashlib

    started = time.perf_counter()
    items = read_agreement_set()
    human = [i.human for i in items]
    out = Scored()
    found = agreement(human, lexical_ratings(items, config.overlap_threshold))
    _agreement_metrics(out, "judge/agreement/lexical", found, None)
    judge = components.judge if config.judge else None
    if judge is not None:
        repeats = judge_ratings(items, judge)
        per_repeat = [agreement(human, r) for r in repeats]
        # The majority verdict over repeats is the judge's answer; each repeat's own
        # agreement is the spread.
        voted: list[bool | None] = []
        for i in range(len(items)):
            marks = [bool(r[i]) for r in repeats if r[i] is not None]
            voted.append(None if not marks else sum(marks) * 2 > len(marks))
        _agreement_metrics(out, "judge/agreement/llm", agreement(human, voted), per_repeat)
    digest = hashlib.sha256(AGREEMENT_SET.read_bytes()).hexdigest()
    info = PartInfo(
        name="judge",
        dataset_hash=digest,
        source=str(AGREEMENT_SET.name),
        n_examples=len(items),
        tasks=["judge_agreement"],
        wall_s=round(time.perf_counter() - started, 3),
    )
    return info, out


def _agreement_metrics(
    out: Scored,
    key: str,
    found: Mapping[str, float | None],
    per_repeat: list[dict[str, float | None]] | None,
) -> None:
    for name in ("accuracy", "kappa"):
        spread = None
        if per_repeat is not None:
            spread = [float(r[name]) for r in per_repeat if r[name] is not None]  # type: ignore[arg-type]
        out.metrics[f"{key}/{name}"] = MetricValue(
            value=found[name],
            n=int(found["n"] or 0),
            missing=int(found["missing"] or 0),
            headline=True,
            spread=spread,
        )
