"""`casebook eval report`: one self-contained HTML file (inline CSS and SVG, no scripts).

Sections: the latest run and its data, the systems side by side per task (baselines
included), changes since the previous run, metric trends across runs, confusion matrices,
precision/coverage curves, per-queue bars and gap-detection curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from evals.charts import bar_chart, heatmap, line_chart, xy_chart
from evals.compare import compare_runs
from evals.history import trends
from evals.runs import EvalRun, MetricValue

CONFUSION_SYSTEMS = ("router", "llm", "rules")
CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.meta td{text-align:left}.na{color:#999}.good{color:#1a7f37}.bad{color:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#666;font-size:12px}
"""


def _cell(metric: MetricValue | None) -> str:
    if metric is None:
        return '<td class="na">—</td>'
    text = escape(metric.display())
    if metric.spread:
        text += f"<br><span class='note'>repeats {min(metric.spread):.3f}–{max(metric.spread):.3f}"
        text += f" (n={len(metric.spread)})</span>"
    cls = ' class="na"' if metric.value is None else ""
    return f"<td{cls}>{text}</td>"


def _groups(run: EvalRun) -> dict[str, dict[str, dict[str, MetricValue]]]:
    """part/task -> system -> metric -> value."""
    out: dict[str, dict[str, dict[str, MetricValue]]] = {}
    for key, metric in run.metrics.items():
        parts = key.split("/")
        if len(parts) != 4:
            continue
        part, task, system, name = parts
        out.setdefault(f"{part}/{task}", {}).setdefault(system, {})[name] = metric
    return out


def _meta(run: EvalRun) -> str:
    commit = (run.git_commit or "unknown")[:12] + (
        " (uncommitted changes)" if run.git_dirty else ""
    )
    rows = [
        ("run", run.run_id),
        ("name", run.name),
        ("suite", run.suite),
        ("created", run.created_at.isoformat(timespec="seconds")),
        ("commit", commit),
        ("embedder", run.embedder),
        ("LLM", run.model or "none"),
        ("prompt", run.prompt_version or "—"),
        ("wall time", f"{run.wall_s:.1f} s"),
    ]
    html = ['<table class="meta">']
    html += [f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows]
    html.append("</table>")
    html.append(
        "<table><tr><th>part</th><th>examples</th><th>past cases</th><th>runbooks</th>"
        "<th>trained on (before)</th><th>data hash</th><th>time</th></tr>"
    )
    for p in run.parts:
        cutoff = p.train_cutoff.date().isoformat() if p.train_cutoff else "—"
        html.append(
            f"<tr><td>{escape(p.name)}</td><td>{p.n_examples}</td><td>{p.n_corpus_cases}</td>"
            f"<td>{p.n_runbooks}</td><td>{p.n_train} ({cutoff})</td>"
            f"<td><code>{p.dataset_hash[:12]}</code></td><td>{p.wall_s:.1f} s</td></tr>"
        )
    for name, why in run.skipped_parts.items():
        html.append(
            f'<tr><td>{escape(name)}</td><td colspan="6" class="na">skipped: '
            f"{escape(why)}</td></tr>"
        )
    html.append("</table>")
    return "".join(html)


def _systems_tables(run: EvalRun) -> str:
    html = []
    for group, systems in sorted(_groups(run).items()):
        names = sorted({m for metrics in systems.values() for m in metrics})
        html.append(f"<h3>{escape(group)}</h3><table><tr><th>system</th>")
        html += [f"<th>{escape(n)}</th>" for n in names]
        html.append("</tr>")
        for system in sorted(systems):
            html.append(f"<tr><td>{escape(system)}</td>")
            html += [_cell(systems[system].get(n)) for n in names]
            html.append("</tr>")
        html.append("</table>")
    for key, value in sorted(run.details.items()):
        if key.endswith("/skipped_systems") or key.endswith("/examples"):
            html.append(f'<p class="note">{escape(key)}: {escape(str(value))}</p>')
    return "".join(html)


def _changes(previous: EvalRun, latest: EvalRun) -> str:
    comparison = compare_runs(previous, latest, n_resamples=1000)
    rows = [
        d for d in comparison.deltas if d.a is not None and d.a.headline and d.delta is not None
    ]
    html = [
        f"<p>{escape(latest.run_id)} against {escape(previous.run_id)}; "
        "p from McNemar (0/1 per case) or a paired bootstrap.</p>",
        "<table><tr><th>metric</th><th>before</th><th>after</th><th>Δ</th>"
        "<th>Δ 95%</th><th>p</th></tr>",
    ]
    for d in rows:
        assert d.delta is not None
        cls = ""
        if d.significant and d.a is not None:
            better = (d.delta > 0) == d.a.higher_is_better
            cls = ' class="good"' if better else ' class="bad"'
        ci = f"[{d.delta_ci[0]:+.3f}, {d.delta_ci[1]:+.3f}]" if d.delta_ci else "—"
        p = f"{d.p_value:.3f}" if d.p_value is not None else "—"
        html.append(
            f"<tr><td>{escape(d.key)}</td>{_cell(d.a)}{_cell(d.b)}"
            f"<td{cls}>{d.delta:+.3f}</td><td>{ci}</td><td>{p}</td></tr>"
        )
    html.append("</table>")
    if comparison.flips:
        html.append(
            f"<p>{len(comparison.flips)} cases flipped (first 30):</p><table><tr>"
            "<th>where</th><th>example</th><th>metric</th><th>before</th><th>after</th>"
            "</tr>"
        )
        for f in comparison.flips[:30]:
            html.append(
                f"<tr><td>{escape(f.key)}</td><td>{escape(f.example_id)}</td>"
                f"<td>{escape(f.metric)}</td><td>{f.a}</td><td>{f.b}</td></tr>"
            )
        html.append("</table>")
    return "".join(html)


def _trend_charts(runs: Sequence[EvalRun]) -> str:
    labels = [r.created_at.strftime("%m-%d %H:%M") for r in runs]
    index = {r.run_id: i for i, r in enumerate(runs)}
    charts: dict[str, dict[str, list[Any]]] = {}
    bands: dict[str, dict[str, list[Any]]] = {}
    for trend in trends(runs):
        part_task, system, name = trend.key.rsplit("/", 2)
        title = f"{part_task} · {name}"
        values: list[float | None] = [None] * len(runs)
        intervals: list[tuple[float, float] | None] = [None] * len(runs)
        for point in trend.points:
            values[index[point.run_id]] = point.value
            intervals[index[point.run_id]] = point.ci
        charts.setdefault(title, {})[system] = values
        bands.setdefault(title, {})[system] = intervals
    return (
        '<div class="charts">'
        + "".join(
            line_chart(title, labels, series, bands=bands[title])
            for title, series in sorted(charts.items())
        )
        + "</div>"
    )


def _detail_charts(run: EvalRun) -> str:
    html = ['<div class="charts">']
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for key, detail in sorted(run.details.items()):
        if not isinstance(detail, dict):
            continue
        part, task, system = [*key.split("/"), "", "", ""][:3]
        if "confusion" in detail and system in CONFUSION_SYSTEMS:
            html.append(heatmap(f"{part} {task}: {system}", detail["labels"], detail["confusion"]))
        if task == "routing" and "curve" in detail:
            points = [(float(c), float(p)) for _, p, c in detail["curve"]]
            curves.setdefault(f"{part} routing: precision vs coverage", {})[system] = points
        if task == "routing" and system == "router" and "per_class" in detail:
            queues = sorted(detail["per_class"])
            series = {
                m: [detail["per_class"][q][m] for q in queues]
                for m in ("precision", "recall", "f1")
            }
            html.append(bar_chart(f"{part} routing per queue: router", queues, series))
        if task == "coverage" and detail.get("curve"):
            points = [(float(r), float(p)) for _, p, r in detail["curve"]]
            html.append(
                xy_chart(
                    f"{part} gap detection ({system})",
                    {"gap": points},
                    x_label="recall of gaps",
                    y_label="precision",
                )
            )
    for title, series in sorted(curves.items()):
        html.append(
            xy_chart(title, series, x_label="coverage (share of cases routed)", y_label="precision")
        )
    html.append("</div>")
    return "".join(html)


def render_report(runs: Sequence[EvalRun], *, latest: EvalRun | None = None) -> str:
    """The HTML report of the runs (oldest first); `latest` defaults to the newest run."""
    if not runs and latest is None:
        return _page("<p>No eval runs yet: run <code>casebook eval run demo</code>.</p>")
    ordered = sorted(runs, key=lambda r: (r.created_at, r.run_id))
    current = latest or ordered[-1]
    same_suite = [r for r in ordered if r.suite == current.suite] or [current]
    previous = [r for r in same_suite if r.created_at < current.created_at]
    body: list[str] = [
        f"<h1>Casebook evals: {escape(current.suite)}</h1>",
        f'<p class="note">Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from '
        f"{len(same_suite)} run(s). Intervals are bootstrap 95%; n/a means the metric "
        "could not be computed, with the number of cases that lacked it.</p>",
        "<h2>Latest run</h2>",
        _meta(current),
        "<h2>Systems side by side (baselines included)</h2>",
        _systems_tables(current),
    ]
    if previous:
        body += ["<h2>Changes since the previous run</h2>", _changes(previous[-1], current)]
    body += [
        "<h2>Trends across runs</h2>",
        _trend_charts(same_suite),
        "<h2>Confusion, coverage and per-queue detail (latest run)</h2>",
        _detail_charts(current),
    ]
    return _page("".join(body))


def _page(body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Casebook eval report</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
