"""`casebook eval run`: a run on fixture suites (HashingEmbedder), stored and read back;
time-respecting retrieval and training; the LLM judge through the gateway with a fake LLM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import eval_suite_commands
from cli.main import app
from core.domain import Case
from core.errors import NotFound
from evals.config import EvalConfig, FusionConfig, load_config
from evals.importers import import_alerts, import_demo, import_endava, import_gitbugs
from evals.judge import Judge, read_agreement_set
from evals.runner import Components, run_agreement, run_suites
from evals.runs import EvalRun, find_run, list_runs, load_run, save_run
from evals.suite import Example, Labels, Suite, SuiteHeader
from tests.fake_llm import FakeLLM
from tests.fakes import HashingEmbedder
from triage.llm import LLMGateway

DATA = Path(__file__).parent / "data" / "evals"
SHARED = DATA / "shared"
runner = CliRunner()


def _config(**update: object) -> EvalConfig:
    base = EvalConfig(
        embedder="fake/hashing-64", fusion=FusionConfig(), bootstrap_resamples=200, llm_model=""
    )
    return base.model_copy(update=update)


def _run(suites: list[Suite], **update: object) -> EvalRun:
    return run_suites(
        suites, _config(**update), Components(embedder=HashingEmbedder()), name="t", suite_ref="t"
    )


@pytest.fixture(scope="module")
def demo_run() -> EvalRun:
    return _run([import_demo(DATA / "demo", holdout=4)])


def test_a_run_scores_every_labelled_task_with_baselines(demo_run: EvalRun) -> None:
    m = demo_run.metrics
    for system in ("majority", "tfidf_svc", "router", "vote"):
        assert m[f"demo/routing/{system}/accuracy"].n == 3
        assert m[f"demo/routing/{system}/accuracy"].headline
    for system in ("majority", "tfidf_svc", "router", "rules"):
        assert f"demo/priority/{system}/accuracy" in m
    for mode in ("bm25", "dense", "hybrid"):
        assert m[f"demo/similar_cases/{mode}/recall@10"].n == 1
        assert m[f"demo/runbooks/{mode}/mrr"].n == 2
    assert m["demo/coverage/dense/accuracy"].n == 4
    assert m["demo/hypotheses/retrieval/lexical_hit_rate"].n == 3
    assert "demo/drafts/retrieval/citation_validity" in m
    assert "judge/agreement/lexical/accuracy" in m
    # Majority predicts one queue for all: its confidence is its training share.
    assert m["demo/routing/majority/ece"].value is not None
    detail = demo_run.details["demo/routing/router"]
    assert set(detail) >= {"confusion", "labels", "per_class", "curve"}


def test_training_and_retrieval_respect_time(demo_run: EvalRun) -> None:
    part = demo_run.part("demo")
    assert part is not None and part.train_cutoff is not None
    # 13 cases; the 4 latest are examples, so only the 9 before the earliest train anything.
    assert part.n_train == 9 and part.n_corpus_cases == 13
    created = {
        c.id: c.created_at for c in import_demo(DATA / "demo", holdout=4).load_corpus().cases
    }
    example_time = {e.id: e.case.created_at for e in import_demo(DATA / "demo", holdout=4).examples}
    ranked = [c for c in demo_run.cases if c.task == "similar_cases"]
    assert ranked
    for result in ranked:
        assert isinstance(result.predicted, list)
        assert all(created[i] < example_time[result.example_id] for i in result.predicted)


def test_a_duplicate_filed_later_is_not_a_target() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    later = Case(id="later", body="disk full on node", created_at=t0 + timedelta(days=2))
    earlier = Case(id="earlier", body="cpu high on node", created_at=t0 - timedelta(days=2))
    suite = Suite(
        header=SuiteHeader(name="leak"),
        examples=[
            Example(
                id="q",
                case=Case(id="q", body="disk full on node", created_at=t0),
                labels=Labels(duplicate_of=["later", "earlier"]),
            )
        ],
        inline_cases=[later, earlier],
    )
    run = _run([suite])
    result = next(c for c in run.cases if c.system == "hybrid")
    assert result.truth == ["earlier"]  # the later duplicate did not exist yet
    assert isinstance(result.predicted, list) and "later" not in result.predicted


def test_run_is_stored_and_read_back(demo_run: EvalRun, tmp_path: Path) -> None:
    path = save_run(demo_run, tmp_path)
    assert path.name == f"{demo_run.run_id}.json"
    again = load_run(path)
    assert again == demo_run
    text = path.read_text()
    # Per-case results one per line, so runs diff line by line.
    case_lines = [line for line in text.splitlines() if line.startswith('{"confidence"')]
    assert len(case_lines) == len(demo_run.cases)
    assert json.loads(text)["run_id"] == demo_run.run_id
    # A second save never overwrites the first.
    second = save_run(demo_run, tmp_path)
    assert second != path and load_run(second).run_id == second.stem
    assert [r.run_id for r in list_runs(tmp_path)] == [path.stem, second.stem]
    assert find_run(path.stem, tmp_path).run_id == path.stem
    assert find_run(str(path), tmp_path).run_id == path.stem
    with pytest.raises(NotFound):
        find_run("no-such-run", tmp_path)


def test_run_records_identity(demo_run: EvalRun) -> None:
    part = demo_run.part("demo")
    assert part is not None and len(part.dataset_hash) == 64
    assert demo_run.embedder == "fake/hashing-64"
    assert demo_run.config["embedder"] == "fake/hashing-64"
    assert demo_run.git_commit is None or len(demo_run.git_commit) == 40


def test_real_set_importers_run_end_to_end() -> None:
    suites = [
        import_gitbugs(SHARED),
        import_alerts(SHARED),
        import_endava(SHARED, examples=6, corpus=24),
    ]
    run = _run(suites)
    assert run.metrics["gitbugs/similar_cases/hybrid/recall@10"].n == 2
    assert run.metrics["alerts/runbooks/hybrid/recall@1"].n == 2
    gaps = run.details["alerts/coverage/dense"]
    assert gaps["gaps"] == 1
    assert run.metrics["endava/routing/router/accuracy"].n == 6
    assert "judge" not in {p.name for p in run.parts}  # no root causes: no agreement part


def test_systems_can_be_chosen_and_none_hides_as_zero() -> None:
    run = _run([import_demo(DATA / "demo", holdout=4)], systems=["router", "hybrid"])
    systems = {k.split("/")[2] for k in run.metrics if k.startswith("demo/")}
    assert systems == {"router", "hybrid"}
    # A metric nobody could compute is None with its cases counted, never a silent 0.
    gaps = run.metrics
    assert all(m.value is not None or m.missing > 0 or m.n == 0 for m in gaps.values())


def _judge(replies: list[str], repeats: int) -> Judge:
    gateway = LLMGateway(
        FakeLLM(replies), model_name="fake/judge", max_retries=0, max_reasks=0, sleep=lambda s: None
    )
    return Judge(gateway, repeats=repeats)


def test_judge_agreement_with_repeats_and_failures() -> None:
    items = read_agreement_set()
    assert 20 <= len(items) <= 30
    assert {i.human for i in items} == {True, False}
    replies = []
    for item in items:
        replies.append(json.dumps({"matches": item.human, "best": 1 if item.human else None}))
        # The second repeat disagrees on every item, or fails to parse.
        replies.append("not json" if item.id.endswith("1") else json.dumps({"matches": True}))
    # Items without hypotheses are a miss without asking the model.
    asked = [i for i in items if i.hypotheses]
    script = [
        r for i, item in enumerate(items) for r in replies[2 * i : 2 * i + 2] if item.hypotheses
    ]
    judge = _judge(script, repeats=2)
    info, scored = run_agreement(_config(), Components(embedder=HashingEmbedder(), judge=judge))
    llm = scored.metrics["judge/agreement/llm/accuracy"]
    assert llm.spread is not None and len(llm.spread) == 2
    assert llm.spread[0] == 1.0  # the first repeat agrees with every hand label
    assert llm.spread[1] < 1.0
    failures = sum(1 for i in asked if i.id.endswith("1"))
    assert judge.usage.failures == failures and judge.usage.calls == 2 * len(asked)
    assert scored.metrics["judge/agreement/lexical/accuracy"].value is not None
    assert info.name == "judge" and info.n_examples == len(items)


def test_judge_scores_hypotheses_in_a_run() -> None:
    suite = import_demo(DATA / "demo", holdout=4)
    judge = _judge([json.dumps({"matches": True})] * 200, repeats=2)
    run = run_suites(
        [suite],
        _config(),
        Components(embedder=HashingEmbedder(), judge=judge),
        name="j",
        suite_ref="j",
    )
    metric = run.metrics["demo/hypotheses/retrieval/judge_hit_rate"]
    assert metric.headline and metric.spread is not None and len(metric.spread) == 2
    assert "judge/agreement/llm/kappa" in run.metrics


def test_config_files(tmp_path: Path) -> None:
    toml = tmp_path / "eval.toml"
    toml.write_text('router = false\nsystems = ["hybrid"]\n[fusion]\nbm25 = 2.0\n')
    config = load_config(toml)
    assert config.router is False and config.fusion is not None and config.fusion.bm25 == 2.0
    assert not config.wants("router") and config.wants("hybrid") and not config.wants("bm25")
    bad = tmp_path / "bad.json"
    bad.write_text('{"judge_repeats": 0}')
    with pytest.raises(Exception, match="invalid eval config"):
        load_config(bad)


def test_cli_run_history_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CASEBOOK_SHARED_DATA", str(tmp_path / "no-shared-data"))
    monkeypatch.delenv("CASEBOOK_LLM_MODEL", raising=False)
    monkeypatch.setattr(eval_suite_commands, "_embedder", lambda s, m: HashingEmbedder())
    from evals.suite import write_suite

    suite = write_suite(import_demo(DATA / "demo", holdout=4), tmp_path / "demo.jsonl")
    config = tmp_path / "eval.json"
    config.write_text('{"bootstrap_resamples": 200}')
    for name in ("first", "second"):
        res = runner.invoke(
            app, ["eval", "run", str(suite), "--config", str(config), "--name", name, "--json"]
        )
        assert res.exit_code == 0, res.output
    stored = list_runs(tmp_path / "data" / "evals" / "runs")
    assert [r.name for r in stored] == ["first", "second"]
    res = runner.invoke(app, ["eval", "history", "--metric", "demo/routing/*"])
    assert res.exit_code == 0 and "demo/routing/router/accuracy" in res.stdout
    res = runner.invoke(app, ["eval", "compare", stored[0].run_id, "latest", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    deltas = {d["key"]: d for d in out["deltas"]}
    assert deltas["demo/routing/router/accuracy"]["delta"] == 0.0
    assert deltas["demo/routing/router/accuracy"]["test"] == "mcnemar"


def test_llm_drafts_count_citations_fallbacks_and_parse_failures() -> None:
    from casetext.tokens import TokenCounter
    from triage.llm_draft import LLMDraftWriter

    reply = json.dumps(
        {
            "queue": "integrations",
            "priority": "P2",
            "customer_response": "Thanks for the details, we are checking the delivery logs now.",
            "hypotheses": [
                {"statement": "Body parser re-serialised the raw body", "likelihood": 0.7,
                 "evidence": [{"id": "not-in-evidence"}], "next_step": "Check the middleware"},
            ],
        }
    )  # fmt: skip
    # Example 1 valid, example 2 invalid twice (the re-ask too): a parse failure, example 3 valid.
    llm = FakeLLM([reply, "not json", "still not json", reply])

    def factory(queues: object) -> LLMDraftWriter:
        gateway = LLMGateway(llm, model_name="fake/llm", max_retries=0, sleep=lambda s: None)
        return LLMDraftWriter(gateway, TokenCounter(), queues=dict(queues))  # type: ignore[call-overload]

    suite = import_demo(DATA / "demo", holdout=4)
    run = run_suites(
        [suite],
        _config(llm_limit=3, judge=False),
        Components(embedder=HashingEmbedder(), writer_factory=factory, model="fake/llm"),
        name="llm",
        suite_ref="demo",
    )
    m = run.metrics
    assert m["demo/drafts/llm/fallbacks"].value == 1.0
    assert m["demo/drafts/llm/parse_failures"].value == 1.0
    # Both valid drafts cited an id that was not in the evidence: dropped and counted.
    assert m["demo/drafts/llm/citation_validity"].value == 0.0
    assert m["demo/drafts/llm/citations"].value == 2.0
    assert m["demo/drafts/llm/input_tokens"].value is not None
    assert m["demo/drafts/llm/input_tokens"].value > 0
    assert m["demo/routing/llm/accuracy"].n == 3
    assert "demo/response/llm/tone" not in m  # no judge configured
    notes = [c.note for c in run.cases if c.system == "llm" and c.task == "routing"]
    assert sum(1 for n in notes if n.startswith("fallback: llm_output_invalid")) == 1
    assert run.model == "fake/llm"
