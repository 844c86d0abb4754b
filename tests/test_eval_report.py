"""The HTML report: one self-contained file whose charts are really there."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from evals.charts import bar_chart, heatmap, line_chart, xy_chart
from evals.config import EvalConfig, FusionConfig
from evals.importers import import_demo
from evals.report import render_report
from evals.runner import Components, run_suites
from evals.runs import EvalRun, MetricValue, save_run
from tests.fakes import HashingEmbedder

DATA = Path(__file__).parent / "data" / "evals"
runner = CliRunner()


class _Tags(HTMLParser):
    """Counts start tags, remembers svg titles and every attribute that could fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.labels: list[str] = []
        self.fetching: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            if tag == "svg" and name == "aria-label" and value:
                self.labels.append(value)
            if name in ("src", "href") or (value and "http" in value and name != "xmlns"):
                self.fetching.append(f"{tag} {name}={value}")


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def runs() -> list[EvalRun]:
    config = EvalConfig(
        embedder="fake", fusion=FusionConfig(), bootstrap_resamples=200, llm_model=""
    )
    suite = import_demo(DATA / "demo", holdout=4)
    first = run_suites(
        [suite], config, Components(embedder=HashingEmbedder()), name="a", suite_ref="demo"
    )
    second = run_suites(
        [suite],
        config.model_copy(update={"router": False}),
        Components(embedder=HashingEmbedder()),
        name="b",
        suite_ref="demo",
    )
    second = second.model_copy(update={"created_at": first.created_at + timedelta(hours=1)})
    return [first, second]


def test_report_has_every_chart(runs: list[EvalRun]) -> None:
    html = render_report(runs, latest=runs[0])
    parsed = _parse(html)
    labels = parsed.labels
    assert parsed.tags["svg"] == len(labels) >= 10
    # Trends: one chart per part/task and metric, a line per system.
    assert "demo/routing · accuracy" in labels and "demo/runbooks · mrr" in labels
    # Confusion matrices of the router and the rule-based priority.
    assert "demo routing: router" in labels and "demo priority: rules" in labels
    assert "demo routing: precision vs coverage" in labels
    assert "demo routing per queue: router" in labels
    assert "demo gap detection (dense)" in labels
    # Heatmap cells: 3 queues x 3 queues in the routing confusion matrix at least.
    assert parsed.tags["rect"] >= 9 and parsed.tags["polyline"] >= 1
    assert "Systems side by side" in html and "tfidf_svc" in html and "majority" in html


def test_report_is_self_contained(runs: list[EvalRun]) -> None:
    parsed = _parse(render_report(runs))
    assert parsed.tags["script"] == 0 and parsed.tags["link"] == 0 and parsed.tags["img"] == 0
    assert parsed.fetching == []


def test_report_shows_changes_and_na(runs: list[EvalRun]) -> None:
    latest = runs[1].model_copy(deep=True)
    latest.metrics["demo/extra/none/score"] = MetricValue(value=None, missing=4, headline=True)
    html = render_report([runs[0], latest])
    assert "Changes since the previous run" in html
    assert "n/a (4 missing)" in html
    assert "nan" not in html.lower().replace("nanum", "")


def test_empty_history_renders() -> None:
    html = render_report([])
    assert "No eval runs yet" in html and _parse(html).tags["svg"] == 0


def test_charts_escape_labels_and_handle_gaps() -> None:
    svg = line_chart(
        "a<b",
        ["r1", "r2", "r3"],
        {"x&y": [0.5, None, 0.7]},
        bands={"x&y": [(0.4, 0.6), None, None]},
    )
    assert "a&lt;b" in svg and "x&amp;y" in svg and "<polyline" not in svg  # gap: no segment
    assert svg.count("<circle") == 2
    assert "n/a" in bar_chart("bars", ["q1", "q2"], {"f1": [0.5, None]})
    assert heatmap("cm", ["a", "b"], {"a": {"a": 2, "b": 1}, "b": {"b": 3}}).count("<rect") == 4
    assert "<polyline" in xy_chart("pc", {"s": [(1.0, 0.5), (0.2, 1.0)]}, x_label="c", y_label="p")


def test_cli_report_writes_one_file(
    runs: list[EvalRun], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    for run in runs:
        save_run(run, tmp_path / "data" / "evals" / "runs")
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["eval", "report", "--out", str(out), "--suite", "demo"])
    assert res.exit_code == 0, res.output
    assert _parse(out.read_text()).tags["svg"] >= 10
