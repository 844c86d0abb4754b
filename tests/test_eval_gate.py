"""Compare and gate on fabricated runs that must pass and must fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from evals.compare import compare_runs, mcnemar_exact, paired_bootstrap
from evals.gate import gate, limit_of
from evals.runs import CaseResult, EvalRun, MetricValue, PartInfo, save_run

runner = CliRunner()
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _run(
    run_id: str,
    correct: list[int],
    *,
    ece: float = 0.05,
    data_hash: str = "a" * 64,
    extra: dict[str, MetricValue] | None = None,
    skipped: dict[str, str] | None = None,
    parts: bool = True,
) -> EvalRun:
    """A run whose router got `correct[i]` right on example e<i>."""
    n = len(correct)
    acc = sum(correct) / n
    cases = [
        CaseResult(
            part="demo",
            task="routing",
            system="router",
            example_id=f"e{i}",
            truth="billing",
            predicted="billing" if c else "identity",
            values={"accuracy": float(c)},
        )
        for i, c in enumerate(correct)
    ]
    metrics = {
        "demo/routing/router/accuracy": MetricValue(
            value=acc,
            ci=(acc - 0.1, min(1.0, acc + 0.1)),
            n=n,
            headline=True,
            per_case="accuracy",
        ),
        "demo/routing/router/ece": MetricValue(
            value=ece, n=n, higher_is_better=False, headline=True
        ),
        "demo/routing/router/macro_f1": MetricValue(value=acc, n=n),
    }
    metrics.update(extra or {})
    return EvalRun(
        run_id=run_id,
        name=run_id,
        suite="ci",
        created_at=T0 + timedelta(hours=int(run_id[-1]) if run_id[-1].isdigit() else 0),
        parts=[PartInfo(name="demo", dataset_hash=data_hash, n_examples=n)] if parts else [],
        skipped_parts=skipped or {},
        metrics=metrics,
        cases=cases,
    )


BASE = [1] * 16 + [0] * 4  # 0.80, interval [0.70, 0.90]


def test_limit_is_the_far_end_of_the_interval() -> None:
    assert limit_of(MetricValue(value=0.8, ci=(0.7, 0.9))) == pytest.approx(0.7)
    assert limit_of(MetricValue(value=0.8, ci=(0.7, 0.9)), 0.05) == pytest.approx(0.65)
    assert limit_of(MetricValue(value=0.1, ci=(0.05, 0.2), higher_is_better=False)) == 0.2
    assert limit_of(MetricValue(value=0.1, higher_is_better=False)) == 0.1  # no interval
    assert limit_of(MetricValue(value=None)) is None


def test_gate_passes_within_the_interval() -> None:
    candidate = _run("cand1", [1] * 15 + [0] * 5)  # 0.75: worse, but inside [0.70, 0.90]
    result = gate(_run("base0", BASE), candidate)
    assert result.passed, result
    assert {c.key: c.status for c in result.checks} == {
        "demo/routing/router/accuracy": "pass",
        "demo/routing/router/ece": "pass",
    }


def test_gate_fails_below_the_interval() -> None:
    candidate = _run("cand1", [1] * 13 + [0] * 7)  # 0.65 < 0.70
    result = gate(_run("base0", BASE), candidate)
    assert not result.passed
    assert [c.key for c in result.failures] == ["demo/routing/router/accuracy"]
    assert "below the allowed 0.7000" in result.failures[0].reason
    # A tolerance the team chose can absorb it.
    assert gate(_run("base0", BASE), candidate, tolerance=0.06).passed


def test_gate_fails_when_lower_is_better_gets_worse() -> None:
    result = gate(_run("base0", BASE), _run("cand1", BASE, ece=0.08))
    assert [c.key for c in result.failures] == ["demo/routing/router/ece"]
    assert gate(_run("base0", BASE), _run("cand1", BASE, ece=0.01)).passed


def test_gate_fails_on_missing_metric_and_changed_data() -> None:
    base = _run(
        "base0",
        BASE,
        extra={
            "demo/runbooks/hybrid/mrr": MetricValue(value=0.9, ci=(0.8, 1.0), headline=True),
        },
    )
    result = gate(base, _run("cand1", BASE))
    assert [c.key for c in result.failures] == ["demo/runbooks/hybrid/mrr"]
    assert result.failures[0].reason == "missing from the candidate"
    changed = gate(_run("base0", BASE), _run("cand1", BASE, data_hash="b" * 64))
    assert not changed.passed and "data of part demo changed" in changed.problems[0]
    missing = gate(_run("base0", BASE), _run("cand1", BASE, parts=False))
    assert not missing.passed and "missing from the candidate run" in missing.problems[0]


def test_gate_skips_parts_whose_data_is_absent() -> None:
    candidate = _run("cand1", BASE, parts=False, skipped={"demo": "shared data not found"})
    result = gate(_run("base0", BASE), candidate)
    assert result.passed
    assert {c.status for c in result.checks} == {"skipped"}
    assert "not measured" in result.warnings[0]


def test_headline_metric_that_became_na_fails() -> None:
    base = _run("base0", BASE)
    candidate = _run("cand1", BASE)
    candidate.metrics["demo/routing/router/accuracy"] = MetricValue(value=None, missing=20)
    result = gate(base, candidate)
    assert result.failures[0].reason == "n/a in candidate"


def test_mcnemar_hand_computed() -> None:
    # b=1, c=5: p = 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)
    assert mcnemar_exact(5, 1) == pytest.approx(14 / 64)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)


def test_paired_bootstrap() -> None:
    mean, ci, p = paired_bootstrap([0.0] * 50, [1.0] * 50)
    assert mean == 1.0 and ci == (1.0, 1.0) and p == 0.0
    mean, ci, p = paired_bootstrap([0.5, 0.2], [0.5, 0.2])
    assert (mean, ci, p) == (0.0, (0.0, 0.0), 1.0)
    mean, ci, p = paired_bootstrap([0.1, 0.9, 0.4, 0.6], [0.2, 0.8, 0.5, 0.5])
    assert mean == pytest.approx(0.0) and ci[0] < 0 < ci[1] and p > 0.5


def test_compare_reports_deltas_tests_and_flips() -> None:
    a = _run("a1", BASE)
    b = _run("b2", [1] * 10 + [0] * 10)  # cases 10-15 flipped to wrong
    result = compare_runs(a, b, n_resamples=500)
    deltas = {d.key: d for d in result.deltas}
    acc = deltas["demo/routing/router/accuracy"]
    assert acc.delta == pytest.approx(-0.3)
    assert acc.test == "mcnemar" and acc.n_paired == 20
    assert acc.p_value == pytest.approx(mcnemar_exact(6, 0))
    assert acc.significant
    assert acc.delta_ci is not None and acc.delta_ci[1] < 0
    assert deltas["demo/routing/router/macro_f1"].test is None  # not a per-case mean
    assert "no paired test" in deltas["demo/routing/router/macro_f1"].note
    assert sorted(f.example_id for f in result.flips) == [f"e{i}" for i in range(10, 16)]
    assert result.flips[0].a == 1.0 and result.flips[0].b == 0.0
    assert result.data_changed == {"demo": False}


def test_cli_gate_passes_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    runs = tmp_path / "data" / "evals" / "runs"
    base = save_run(_run("base0", BASE), tmp_path / "baselines")
    save_run(_run("good1", [1] * 15 + [0] * 5), runs)
    save_run(_run("bad2", [1] * 12 + [0] * 8), runs)
    ok = runner.invoke(app, ["eval", "gate", "--baseline", str(base), "--run", "good1"])
    assert ok.exit_code == 0, ok.output
    assert "gate passed" in ok.stdout
    bad = runner.invoke(app, ["eval", "gate", "--baseline", str(base), "--run", "bad2"])
    assert bad.exit_code == 1
    assert "1 metric(s) regressed" in " ".join(bad.output.split())
    res = runner.invoke(app, ["eval", "compare", "good1", "bad2"])
    assert res.exit_code == 0 and "mcnemar" in res.stdout
