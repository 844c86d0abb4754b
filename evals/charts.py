"""Small inline SVG charts, rendered in Python: lines, x/y curves, grouped bars, heatmaps.

Self-contained on purpose: the eval report is one HTML file with no scripts or downloads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
WIDTH, HEIGHT = 560, 300
MARGIN = {"left": 52, "right": 150, "top": 30, "bottom": 46}


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"


def _frame(title: str, body: list[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">'
    )
    heading = (
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13">'
        f"{escape(title)}</text>"
    )
    return head + f"<title>{escape(title)}</title>" + heading + "".join(body) + "</svg>"


def _axes(
    x0: float, y0: float, x1: float, y1: float, lo: float, hi: float, y_label: str
) -> list[str]:
    out = [
        f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#444"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#444"/>',
    ]
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = y1 - (y1 - y0) * i / 4
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>')
    if y_label:
        out.append(
            f'<text x="12" y="{(y0 + y1) / 2:.0f}" transform="rotate(-90 12 '
            f'{(y0 + y1) / 2:.0f})" text-anchor="middle">{escape(y_label)}</text>'
        )
    return out


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        yy = y + 16 * i
        out.append(f'<rect x="{x}" y="{yy - 8}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{yy + 1}">{escape(name[:22])}</text>')
    return out


def _range(values: Sequence[float], unit: bool) -> tuple[float, float]:
    if unit or not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    return (0.0 if lo >= 0 else lo - pad), hi + pad


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    bands: Mapping[str, Sequence[tuple[float, float] | None]] | None = None,
    unit: bool = True,
    y_label: str = "",
) -> str:
    """One line per series over evenly spaced runs; gaps where a value is None; optional
    interval bands."""
    x0, y0 = MARGIN["left"], MARGIN["top"]
    x1, y1 = WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"]
    values = [v for s in series.values() for v in s if v is not None]
    lo, hi = _range(values, unit and all(0 <= v <= 1 for v in values))
    n = max(1, len(x_labels))

    def px(i: int) -> float:
        return x0 + (x1 - x0) * (i + 0.5) / n

    def py(v: float) -> float:
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    body = _axes(x0, y0, x1, y1, lo, hi, y_label)
    step = max(1, n // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0:
            body.append(
                f'<text x="{px(i):.1f}" y="{y1 + 14}" text-anchor="middle">'
                f"{escape(label[:12])}</text>"
            )
    for s_idx, (name, points) in enumerate(series.items()):
        color = PALETTE[s_idx % len(PALETTE)]
        for i, band in enumerate((bands or {}).get(name, [])):
            if band is not None:
                body.append(
                    f'<line x1="{px(i):.1f}" y1="{py(band[0]):.1f}" x2="{px(i):.1f}" '
                    f'y2="{py(band[1]):.1f}" stroke="{color}" stroke-opacity="0.35" '
                    'stroke-width="6"/>'
                )
        segment: list[str] = []
        for i, v in enumerate(points):
            if v is None:
                if len(segment) > 1:
                    body.append(_polyline(segment, color))
                segment = []
                continue
            segment.append(f"{px(i):.1f},{py(v):.1f}")
            body.append(
                f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)}: {v:.4f}</title></circle>"
            )
        if len(segment) > 1:
            body.append(_polyline(segment, color))
    body += _legend(list(series), x1 + 14, y0 + 6)
    return _frame(title, body)


def _polyline(points: list[str], color: str) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="2"/>'


def xy_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
) -> str:
    """Step-free x/y curves on [0, 1] x [0, 1] (precision vs coverage, precision vs recall)."""
    x0, y0 = MARGIN["left"], MARGIN["top"]
    x1, y1 = WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"]
    body = _axes(x0, y0, x1, y1, 0.0, 1.0, y_label)
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        body.append(f'<text x="{x:.1f}" y="{y1 + 14}" text-anchor="middle">{_fmt(i / 4)}</text>')
    body.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    for s_idx, (_name, points) in enumerate(series.items()):
        color = PALETTE[s_idx % len(PALETTE)]
        coords = [f"{x0 + (x1 - x0) * x:.1f},{y1 - (y1 - y0) * y:.1f}" for x, y in sorted(points)]
        if len(coords) == 1:
            cx, cy = coords[0].split(",")
            body.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
        elif coords:
            body.append(_polyline(coords, color))
    body += _legend(list(series), x1 + 14, y0 + 6)
    return _frame(title, body)


def bar_chart(
    title: str, groups: Sequence[str], series: Mapping[str, Sequence[float | None]]
) -> str:
    """Grouped vertical bars on [0, 1]; a missing value leaves a gap marked n/a."""
    width = max(WIDTH, MARGIN["left"] + MARGIN["right"] + 34 * len(groups) * max(1, len(series)))
    x0, y0 = MARGIN["left"], MARGIN["top"]
    x1, y1 = width - MARGIN["right"], HEIGHT - MARGIN["bottom"]
    body = _axes(x0, y0, x1, y1, 0.0, 1.0, "")
    slot = (x1 - x0) / max(1, len(groups))
    bar = slot * 0.8 / max(1, len(series))
    for g, group in enumerate(groups):
        gx = x0 + slot * g + slot * 0.1
        body.append(
            f'<text x="{x0 + slot * (g + 0.5):.1f}" y="{y1 + 14}" text-anchor="middle">'
            f"{escape(group[:16])}</text>"
        )
        for s_idx, (name, values) in enumerate(series.items()):
            v = values[g] if g < len(values) else None
            bx = gx + bar * s_idx
            if v is None:
                body.append(
                    f'<text x="{bx + bar / 2:.1f}" y="{y1 - 4}" text-anchor="middle" '
                    'font-size="8">n/a</text>'
                )
                continue
            h = (y1 - y0) * max(0.0, min(1.0, v))
            body.append(
                f'<rect x="{bx:.1f}" y="{y1 - h:.1f}" width="{bar * 0.92:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s_idx % len(PALETTE)]}">'
                f"<title>{escape(group)} {escape(name)}: {v:.3f}</title></rect>"
            )
    body += _legend(list(series), x1 + 14, y0 + 6)
    return _frame(title, body, width=width)


def heatmap(title: str, labels: Sequence[str], matrix: Mapping[str, Mapping[str, int]]) -> str:
    """A confusion matrix: rows are the truth, columns the prediction, shaded by row share."""
    cell = max(22, min(48, 360 // max(1, len(labels))))
    left, top = 130, 40
    width = left + cell * len(labels) + 20
    height = top + cell * len(labels) + 110
    body = []
    for j, label in enumerate(labels):
        x = left + cell * j + cell / 2
        y = top + cell * len(labels) + 8
        body.append(
            f'<text x="{x:.1f}" y="{y}" transform="rotate(45 {x:.1f} {y})">'
            f"{escape(label[:18])}</text>"
        )
    for i, truth in enumerate(labels):
        row = matrix.get(truth, {})
        total = sum(row.values())
        y = top + cell * i
        body.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(truth[:20])}</text>"
        )
        for j, pred in enumerate(labels):
            count = int(row.get(pred, 0))
            share = count / total if total else 0.0
            color = "#2ca02c" if i == j else "#d62728"
            body.append(
                f'<rect x="{left + cell * j}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="{color}" fill-opacity="{0.08 + 0.85 * share:.2f}" stroke="#fff">'
                f"<title>{escape(truth)} → {escape(pred)}: {count}</title></rect>"
            )
            if count:
                body.append(
                    f'<text x="{left + cell * j + cell / 2:.1f}" '
                    f'y="{y + cell / 2 + 4:.1f}" text-anchor="middle">{count}</text>'
                )
    body.append(
        f'<text x="{left - 6}" y="{top - 6}" text-anchor="end" font-style="italic">'
        "truth ↓ / predicted →</text>"
    )
    return _frame(title, body, width=max(width, 320), height=height)
