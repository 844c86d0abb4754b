"""Inline SVG charts rendered on the server (no JavaScript library): a line over bars, sparklines.

Every chart is role="img" with a title and description; pages put the numbers in a table too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Point:
    """One x position: its label, the line's value (None: a gap) and the bar's value."""

    label: str
    value: float | None
    bar: float = 0.0
    note: str = ""


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    description: str,
    chart_id: str,
    y_max: float = 1.0,
    y_label: Callable[[float], str] = lambda v: f"{v * 100:.0f}%",
    width: int = 720,
    height: int = 260,
) -> Markup:
    """A line (gaps where the value is None) over bars scaled to their own maximum."""
    left, right, top, bottom = 44, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    step = plot_w / n
    bar_max = max((p.bar for p in points), default=0.0) or 1.0

    def x_at(i: int) -> float:
        return left + step * (i + 0.5)

    def y_at(v: float) -> float:
        return top + plot_h * (1 - min(max(v / y_max, 0.0), 1.0))

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(description)}</desc>',
    ]
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _fmt(y_at(frac * y_max))
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{y}" y2="{y}"/>'
        )
        parts.append(
            f'<text class="chart-label" x="{left - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(y_label(frac * y_max))}</text>'
        )
    bar_w = max(step * 0.6, 1.0)
    for i, p in enumerate(points):
        if p.bar > 0:
            h = plot_h * p.bar / bar_max
            x, y, w = _fmt(x_at(i) - bar_w / 2), _fmt(top + plot_h - h), _fmt(bar_w)
            parts.append(
                f'<rect class="chart-bar" x="{x}" y="{y}" width="{w}" height="{_fmt(h)}"/>'
            )
    segments: list[list[str]] = [[]]
    for i, p in enumerate(points):
        if p.value is None:
            segments.append([])
            continue
        segments[-1].append(f"{_fmt(x_at(i))},{_fmt(y_at(p.value))}")
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="chart-line" points="{" ".join(seg)}"/>')
    for i, p in enumerate(points):
        if p.value is not None:
            tip = f"{p.label}: {y_label(p.value)}" + (f" ({p.note})" if p.note else "")
            parts.append(
                f'<circle class="chart-point" cx="{_fmt(x_at(i))}" cy="{_fmt(y_at(p.value))}" '
                f'r="3.5"><title>{escape(tip)}</title></circle>'
            )
    every = max(1, round(n / 8))
    for i, p in enumerate(points):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="chart-label" x="{_fmt(x_at(i))}" y="{height - bottom + 18}" '
                f'text-anchor="middle">{escape(p.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(values: Sequence[float | None], *, label: str, width: int = 120) -> Markup:
    """A small line of a series, for tables; the label says what it shows."""
    height, pad = 28, 3
    present = [v for v in values if v is not None]
    top = max(present, default=0.0)
    low = min(present, default=0.0)
    span = (top - low) or 1.0
    n = len(values)
    step = (width - 2 * pad) / max(n - 1, 1)
    coords = [
        f"{_fmt(pad + i * step)},{_fmt(height - pad - (height - 2 * pad) * (v - low) / span)}"
        for i, v in enumerate(values)
        if v is not None
    ]
    line = f'<polyline class="spark-line" points="{" ".join(coords)}"/>' if len(coords) > 1 else ""
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>{line}</svg>'
    )
