"""Spike detection on hand-made weekly counts."""

from __future__ import annotations

from datetime import date, timedelta

from kb_coverage.config import CoverageConfig
from kb_coverage.spikes import find_spikes, spike_weeks

CONFIG = CoverageConfig(baseline_weeks=8, min_baseline_weeks=4, spike_z=3.5, spike_min_count=5)


def test_a_jump_over_a_quiet_baseline_is_a_spike() -> None:
    weeks = spike_weeks([2, 3, 2, 3, 2, 3, 2, 3, 12], CONFIG)
    assert [(w.index, w.count) for w in weeks] == [(8, 12)]
    assert weeks[0].baseline == 2.5 and weeks[0].z >= 3.5


def test_from_nothing_to_a_handful_is_a_spike_but_below_min_count_is_not() -> None:
    assert [w.index for w in spike_weeks([0, 0, 0, 0, 0, 6], CONFIG)] == [5]
    assert spike_weeks([0, 0, 0, 0, 0, 4], CONFIG) == []


def test_a_busy_noisy_series_does_not_spike_on_ordinary_wobble() -> None:
    assert spike_weeks([20, 25, 15, 22, 18, 24, 16, 21, 28], CONFIG) == []
    # ... but a real surge on it does.
    assert [w.index for w in spike_weeks([20, 25, 15, 22, 18, 24, 16, 21, 60], CONFIG)] == [8]


def test_no_spike_without_enough_baseline_weeks() -> None:
    assert spike_weeks([0, 0, 9, 0, 0], CONFIG) == []


def test_the_baseline_is_only_the_trailing_weeks() -> None:
    # An old busy period is outside the 8-week baseline of the last week.
    counts = [30, 30, 30, 30, 0, 0, 0, 0, 0, 0, 0, 0, 8]
    assert [w.index for w in spike_weeks(counts, CONFIG)] == [12]


def test_find_spikes_collapses_weeks_and_orders_ongoing_first() -> None:
    starts = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(10)]
    series = {
        "old": [0, 0, 0, 0, 9, 0, 0, 0, 0, 0],
        "ramp": [0, 0, 0, 0, 0, 0, 0, 6, 15, 21],
        "flat": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
    }
    spikes = find_spikes("signature", series, {"ramp": "webhook signatures"}, starts, CONFIG)
    assert [s.key for s in spikes] == ["ramp", "old"]
    ramp, old = spikes
    assert ramp.ongoing and not old.ongoing
    assert ramp.first_week == "2026-W44" and ramp.peak_week == "2026-W46"
    assert ramp.peak_count == 21 and ramp.baseline == 0.0
    assert ramp.label == "webhook signatures" and old.label == "old"
    assert ramp.summary.startswith("webhook signatures: 21 tickets in 2026-W46")
    assert [w.count for w in ramp.weekly] == series["ramp"]
