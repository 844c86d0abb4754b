"""The suite format and its importers, on small fixture files under tests/data/evals/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.domain import Case
from core.errors import EvalError
from evals.builtin import resolve_suites
from evals.importers import (
    ReviewedDraft,
    examples_from_reviews,
    import_alerts,
    import_demo,
    import_endava,
    import_gitbugs,
)
from evals.suite import Example, Labels, Suite, SuiteHeader, as_filed, read_suite, write_suite

DATA = Path(__file__).parent / "data" / "evals"
DEMO = DATA / "demo"
SHARED = DATA / "shared"
runner = CliRunner()


def test_demo_import_labels_the_latest_cases() -> None:
    suite = import_demo(DEMO, holdout=4)
    assert [e.id for e in suite.examples] == ["T-109", "T-110", "T-111", "T-200"]
    by_id = {e.id: e for e in suite.examples}
    # The csv topic never links a runbook anywhere: a KB gap.
    assert by_id["T-110"].labels.covered is False
    assert by_id["T-110"].labels.relevant_runbooks is None
    assert by_id["T-111"].labels.relevant_runbooks == ["webhooks/signature-verification"]
    assert by_id["T-111"].labels.queue == "integrations"
    assert by_id["T-111"].labels.root_cause and by_id["T-111"].labels.covered is True
    # The re-filed case: unlabelled for routing, a duplicate of the earlier original.
    refile = by_id["T-200"].labels
    assert refile.duplicate_of == ["T-109"] and refile.queue is None
    assert by_id["T-200"].labels.tasks() == ["similar_cases", "coverage"]


def test_examples_carry_no_answers() -> None:
    for example in import_demo(DEMO, holdout=5).examples:
        case = example.case
        assert case.queue is None and case.priority is None and case.root_cause is None
        assert case.resolution is None and case.linked_runbooks == []
        assert "topic" not in case.metadata and "duplicate_of" not in case.metadata
        assert case.metadata.get("plan") == "growth"  # ordinary helpdesk data stays


def test_suite_round_trip_with_relative_corpus_paths(tmp_path: Path) -> None:
    suite = import_demo(DEMO, holdout=3)
    path = write_suite(suite, tmp_path / "suites" / "demo.jsonl")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["type"] == "suite"
    assert not Path(header["corpus"][0]["path"]).is_absolute()
    again = read_suite(path)
    assert [e.model_dump() for e in again.examples] == [e.model_dump() for e in suite.examples]
    corpus = again.load_corpus()
    assert len(corpus.cases) == 13 and len(corpus.runbooks) == 2
    assert again.dataset_hash(corpus) == suite.dataset_hash(suite.load_corpus())


def test_dataset_hash_follows_labels_and_corpus() -> None:
    suite = import_demo(DEMO, holdout=3)
    corpus = suite.load_corpus()
    before = suite.dataset_hash(corpus)
    suite.examples[0].labels.queue = "billing"
    assert suite.dataset_hash(corpus) != before
    suite.examples[0].labels.queue = import_demo(DEMO, holdout=3).examples[0].labels.queue
    assert suite.dataset_hash(corpus) == before
    corpus.cases[0] = corpus.cases[0].model_copy(update={"body": "changed"})
    assert suite.dataset_hash(corpus) != before


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"type": "example", "id": "a", "case": {"id": "a"}}'], "first line"),
        (['{"type": "suite", "name": "x"}', "{not json"], ":2: not JSON"),
        (['{"type": "suite", "name": "x"}', '{"type": "what"}'], "unknown line type"),
        (
            [
                '{"type": "suite", "name": "x"}',
                '{"type": "example", "id": "a", "case": {"id": "a"}}',
                '{"type": "example", "id": "a", "case": {"id": "a"}}',
            ],
            "duplicate example id",
        ),
        (
            [
                '{"type": "suite", "name": "x"}',
                '{"type": "example", "id": "a", "case": {"id": "a"}, "labels": {"priority": "P9"}}',
            ],
            ":2: labels.priority",
        ),
        (['{"type": "suite", "name": "x", "format_version": 9}'], "format 9"),
    ],
)
def test_malformed_suites_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EvalError, match=message):
        read_suite(path)


def test_inline_corpus_cases_round_trip(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    suite = Suite(
        header=SuiteHeader(name="tiny"),
        examples=[
            Example(id="n", case=Case(id="n", body="b", created_at=t0), labels=Labels(queue="q"))
        ],
        inline_cases=[Case(id="p", body="a", queue="q", created_at=t0 - timedelta(days=1))],
    )
    again = read_suite(write_suite(suite, tmp_path / "tiny.jsonl"))
    assert [c.id for c in again.load_corpus().cases] == ["p"]


def test_gitbugs_import_keeps_only_earlier_duplicates() -> None:
    suite = import_gitbugs(SHARED)
    assert {e.id: e.labels.duplicate_of for e in suite.examples} == {
        "gitbugs-1003": ["gitbugs-1001"],
        "gitbugs-1004": ["gitbugs-1002"],
    }
    assert len(suite.load_corpus().cases) == 6


def test_gitbugs_subset_is_linked_bugs_plus_fixed_distractors() -> None:
    first = import_gitbugs(SHARED, distractors=1)
    second = import_gitbugs(SHARED, distractors=1)
    ids = first.header.corpus[0].ids
    assert ids == second.header.corpus[0].ids  # a fixed seed: the same subset every time
    assert ids is not None and len(ids) == 5
    assert {"gitbugs-1001", "gitbugs-1002", "gitbugs-1003", "gitbugs-1004"} <= set(ids)
    assert len(first.load_corpus().cases) == 5


def test_alerts_import_has_real_gap_negatives() -> None:
    suite = import_alerts(SHARED)
    by_id = {e.id: e for e in suite.examples}
    assert by_id["alert-etcdMembersDown"].labels.relevant_runbooks == [
        "runbooks/etcd/etcdMembersDown"
    ]
    gap = by_id["alert-KubeletTooManyPods"].labels
    assert gap.covered is False and gap.relevant_runbooks is None
    text = by_id["alert-etcdMembersDown"].case.text
    assert "etcdMembersDown" not in text and "<job>" in text
    assert {r.id for r in suite.load_corpus().runbooks} == {
        "runbooks/etcd/etcdMembersDown",
        "runbooks/node/NodeFilesystemSpaceFillingUp",
    }


def test_endava_import_orders_by_row_and_dates_rows() -> None:
    suite = import_endava(SHARED, examples=6, corpus=12, stride=2)
    # 36 rows, every 2nd kept = 18; the latest 6 are examples, the 12 before them corpus.
    assert len(suite.examples) == 6 and len(suite.inline_cases) == 12
    assert all(c.created_at < suite.examples[0].case.created_at for c in suite.inline_cases)
    assert suite.examples[-1].id == "endava-170"
    assert suite.inline_cases[0].created_at == datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
        minutes=int(suite.inline_cases[0].id.split("-")[1])
    )
    assert all(e.labels.tasks() == ["routing"] for e in suite.examples)
    with pytest.raises(EvalError, match="need more than"):
        import_endava(SHARED, examples=40)


def test_reviews_become_examples() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    case = Case(
        id="C-1",
        title="Refund stuck",
        body="Refund pending for 10 days",
        created_at=t0,
        queue="payments-api",
        root_cause="Issuer had not posted the refund yet.",
    )
    reviews = [
        ReviewedDraft(
            case=case,
            draft_queue="billing",
            draft_priority="P3",
            draft_response="We are looking into it.",
            action="edited",
            corrected_queue="payments-api",
            reviewed_at=t0 + timedelta(hours=2),
        ),
        ReviewedDraft(
            case=case, draft_queue="billing", action="accepted", reviewed_at=t0 + timedelta(hours=1)
        ),
        ReviewedDraft(
            case=case.model_copy(update={"id": "C-2"}),
            draft_queue="billing",
            draft_priority="P2",
            draft_response="Hi",
            action="rejected",
            corrected_priority="P1",
        ),
    ]
    examples = {e.id: e for e in examples_from_reviews(reviews)}
    edited = examples["C-1"].labels
    # The later (edited) review wins; fields the engineer left as drafted count as accepted.
    assert edited.queue == "payments-api" and edited.priority == "P3"
    assert edited.reference_response == "We are looking into it."
    assert edited.root_cause == "Issuer had not posted the refund yet."
    assert examples["C-1"].case.queue is None and examples["C-1"].case.root_cause is None
    rejected = examples["C-2"].labels
    assert rejected.priority == "P1" and rejected.queue is None
    assert rejected.reference_response is None
    assert examples["C-2"].source == "review:rejected"


def test_as_filed_drops_truth_metadata() -> None:
    case = Case(id="x", queue="q", metadata={"topic": "t", "duplicate_of": "y", "plan": "p"})
    filed = as_filed(case)
    assert filed.metadata == {"plan": "p"} and filed.queue is None and filed.status == "new"


def test_builtin_suites_skip_parts_without_shared_data(tmp_path: Path) -> None:
    suites, skipped = resolve_suites(["ci"], shared=tmp_path / "absent", demo_dir=DEMO)
    assert [s.name for s in suites] == ["demo"]
    assert set(skipped) == {"gitbugs-ci", "alerts", "endava-ci"}
    with pytest.raises(EvalError, match="neither a suite file"):
        resolve_suites(["nope"], shared=tmp_path)


def test_cli_import_writes_a_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "alerts.jsonl"
    res = runner.invoke(app, ["eval", "import", "alerts", "--root", str(SHARED), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 examples (coverage 3, runbooks 2)" in " ".join(res.stdout.split())
    assert len(read_suite(out).examples) == 3
    res = runner.invoke(app, ["eval", "import", "nothing"])
    assert res.exit_code != 0
