"""Comparing two runs: metric deltas with intervals, a paired test, the cases that flipped.

Per-case means are compared on the cases both runs scored: accuracy-like 0/1 values by an
exact McNemar test, other per-case values by a paired bootstrap of the mean difference.
Metrics that are not per-case means (macro-F1, ECE, ...) show their delta and both runs'
intervals only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from evals.runs import CaseResult, EvalRun, MetricValue


class MetricDelta(BaseModel):
    """One metric in both runs."""

    key: str
    a: MetricValue | None
    b: MetricValue | None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    p_value: float | None = None
    test: str | None = Field(default=None, description="mcnemar | paired-bootstrap | None")
    n_paired: int = 0
    note: str = ""

    @property
    def significant(self) -> bool:
        """p < 0.05 on the paired test."""
        return self.p_value is not None and self.p_value < 0.05


class Flip(BaseModel):
    """A case one run got right and the other wrong."""

    key: str
    example_id: str
    metric: str
    a: float | None
    b: float | None
    truth: Any = None
    a_predicted: Any = None
    b_predicted: Any = None


class Comparison(BaseModel):
    """Run B against run A."""

    a: str
    b: str
    data_changed: dict[str, bool] = Field(default_factory=dict)
    deltas: list[MetricDelta] = Field(default_factory=list)
    flips: list[Flip] = Field(default_factory=list)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial, p = 1/2)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = 2000, seed: int = 7
) -> tuple[float, tuple[float, float], float]:
    """(mean of b - a, its 95% percentile interval, two-sided bootstrap p-value)."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if diff.size == 0:
        return 0.0, (0.0, 0.0), 1.0
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n_resamples, diff.size))].mean(axis=1)
    lo, hi = float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
    if np.all(diff == 0):
        return 0.0, (0.0, 0.0), 1.0
    p = 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0)))
    return float(diff.mean()), (lo, hi), min(1.0, p)


def _per_case(run: EvalRun) -> dict[str, dict[str, CaseResult]]:
    out: dict[str, dict[str, CaseResult]] = {}
    for case in run.cases:
        out.setdefault(case.key, {})[case.example_id] = case
    return out


def _binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def compare_runs(a: EvalRun, b: EvalRun, *, n_resamples: int = 2000) -> Comparison:
    """Every metric of either run, B minus A, with a paired test where cases pair up."""
    out = Comparison(a=a.run_id, b=b.run_id)
    for part in {p.name for p in a.parts} & {p.name for p in b.parts}:
        pa, pb = a.part(part), b.part(part)
        assert pa is not None and pb is not None
        out.data_changed[part] = pa.dataset_hash != pb.dataset_hash
    cases_a, cases_b = _per_case(a), _per_case(b)
    for key in sorted(set(a.metrics) | set(b.metrics)):
        ma, mb = a.metrics.get(key), b.metrics.get(key)
        delta = MetricDelta(key=key, a=ma, b=mb)
        if ma is None or mb is None or ma.value is None or mb.value is None:
            delta.note = "only in one run" if ma is None or mb is None else "n/a in one run"
            out.deltas.append(delta)
            continue
        delta.delta = mb.value - ma.value
        name = ma.per_case if ma.per_case and ma.per_case == mb.per_case else None
        prefix = key.rsplit("/", 1)[0]
        if name is None:
            delta.note = "not a per-case mean: no paired test"
            out.deltas.append(delta)
            continue
        if out.data_changed.get(key.split("/", 1)[0]):
            delta.note = "data changed: cases compared by id"
        ra, rb = cases_a.get(prefix, {}), cases_b.get(prefix, {})
        pairs = [
            (ra[i].values.get(name), rb[i].values.get(name), i) for i in sorted(set(ra) & set(rb))
        ]
        paired = [(x, y, i) for x, y, i in pairs if x is not None and y is not None]
        delta.n_paired = len(paired)
        if paired:
            xs = [float(x) for x, _, _ in paired]
            ys = [float(y) for _, y, _ in paired]
            _, ci, p = paired_bootstrap(xs, ys, n_resamples=n_resamples)
            delta.delta_ci = ci
            if _binary(xs + ys):
                a_only = sum(1 for x, y in zip(xs, ys, strict=True) if x > y)
                b_only = sum(1 for x, y in zip(xs, ys, strict=True) if y > x)
                delta.p_value, delta.test = mcnemar_exact(a_only, b_only), "mcnemar"
                if name in ("accuracy", "recall@1", "recall@10", "lexical_hit_rate"):
                    out.flips += [
                        Flip(
                            key=prefix,
                            example_id=i,
                            metric=name,
                            a=x,
                            b=y,
                            truth=rb[i].truth,
                            a_predicted=ra[i].predicted,
                            b_predicted=rb[i].predicted,
                        )
                        for x, y, i in paired
                        if x != y
                    ]
            else:
                delta.p_value, delta.test = p, "paired-bootstrap"
        out.deltas.append(delta)
    return out
