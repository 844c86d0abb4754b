"""The trend of each tracked metric across stored runs."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from pydantic import BaseModel, Field

from evals.runs import EvalRun


class TrendPoint(BaseModel):
    """A metric's value in one run."""

    run_id: str
    created_at: str
    git_commit: str | None = None
    value: float | None = None
    ci: tuple[float, float] | None = None
    data_hash: str | None = None


class Trend(BaseModel):
    """One metric across runs, oldest first."""

    key: str
    higher_is_better: bool = True
    points: list[TrendPoint] = Field(default_factory=list)

    @property
    def last_change(self) -> float | None:
        """Latest value minus the previous one (None with fewer than two values)."""
        values = [p.value for p in self.points if p.value is not None]
        return values[-1] - values[-2] if len(values) >= 2 else None


def trends(
    runs: Sequence[EvalRun], *, pattern: str | None = None, all_metrics: bool = False
) -> list[Trend]:
    """Every headline metric (or every metric) seen in the runs, optionally filtered by a
    glob pattern on the key, with one point per run that measured it."""
    keys: dict[str, bool] = {}
    for run in runs:
        for key, metric in run.metrics.items():
            if (all_metrics or metric.headline) and (
                pattern is None or fnmatch.fnmatch(key, pattern)
            ):
                keys.setdefault(key, metric.higher_is_better)
    out = []
    for key in sorted(keys):
        trend = Trend(key=key, higher_is_better=keys[key])
        part = key.split("/", 1)[0]
        for run in runs:
            found = run.metrics.get(key)
            if found is None:
                continue
            info = run.part(part)
            trend.points.append(
                TrendPoint(
                    run_id=run.run_id,
                    created_at=run.created_at.isoformat(timespec="seconds"),
                    git_commit=(run.git_commit or "")[:12] or None,
                    value=found.value,
                    ci=found.ci,
                    data_hash=info.dataset_hash[:12] if info else None,
                )
            )
        out.append(trend)
    return out
