"""Spike detection: weekly volume far above its trailing baseline (robust z-score).

For each week, the baseline is the median of the trailing weeks and the spread their median
absolute deviation (scaled to a standard deviation), floored at the Poisson spread
sqrt(median) (at least 1) so a quiet series going from 0 to 6 counts, and a busy one
wobbling by a few does not. Like ServiceNow's major-issue detection, a flagged cluster or
error signature is a possible product issue, not a verdict.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from kb_coverage.config import CoverageConfig
from kb_coverage.weeks import WeekCount, week_label, week_series

SpikeKind = Literal["gap_cluster", "signature"]


class SpikeWeek(BaseModel):
    """One week flagged as a spike."""

    index: int
    count: int
    baseline: float
    z: float


class Spike(BaseModel):
    """A cluster or signature whose weekly volume jumped well above its baseline."""

    kind: SpikeKind
    key: str
    label: str
    first_week: str
    peak_week: str
    peak_count: int
    baseline: float = Field(description="median weekly count before the first flagged week")
    z: float = Field(description="robust z-score of the peak week")
    ongoing: bool = Field(description="flagged in the last two weeks of the window")
    weekly: list[WeekCount]
    summary: str


def spike_weeks(counts: Sequence[int], config: CoverageConfig | None = None) -> list[SpikeWeek]:
    """The weeks of a series that spike over their trailing baseline."""
    config = config or CoverageConfig()
    out: list[SpikeWeek] = []
    for i, count in enumerate(counts):
        history = counts[max(0, i - config.baseline_weeks) : i]
        if len(history) < config.min_baseline_weeks or count < config.spike_min_count:
            continue
        median = float(statistics.median(history))
        mad = float(statistics.median(abs(x - median) for x in history))
        spread = max(1.4826 * mad, math.sqrt(max(median, 1.0)))
        z = (count - median) / spread
        if z >= config.spike_z:
            out.append(SpikeWeek(index=i, count=count, baseline=median, z=round(z, 2)))
    return out


def find_spikes(
    kind: SpikeKind,
    series: Mapping[str, Sequence[int]],
    labels: Mapping[str, str],
    starts: Sequence[date],
    config: CoverageConfig | None = None,
) -> list[Spike]:
    """One Spike per key with flagged weeks, ongoing first, then by peak z-score."""
    config = config or CoverageConfig()
    found: list[Spike] = []
    for key, counts in series.items():
        weeks = spike_weeks(counts, config)
        if not weeks:
            continue
        first = weeks[0]
        peak = max(weeks, key=lambda w: (w.count, w.z))
        label = labels.get(key, key)
        found.append(
            Spike(
                kind=kind,
                key=key,
                label=label,
                first_week=week_label(starts[first.index]),
                peak_week=week_label(starts[peak.index]),
                peak_count=peak.count,
                baseline=first.baseline,
                z=peak.z,
                ongoing=weeks[-1].index >= len(counts) - 2,
                weekly=week_series(counts, starts),
                summary=(
                    f"{label}: {peak.count} tickets in {week_label(starts[peak.index])} against "
                    f"a baseline of {first.baseline:g} a week"
                ),
            )
        )
    found.sort(key=lambda s: (not s.ongoing, -s.z, s.key))
    return found
