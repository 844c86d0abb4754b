"""The evals page: recent eval runs and the trend of each tracked metric.

Runs are the JSON files the eval suite writes (Settings.eval_runs_path, one `<run_id>.json`
per run). The API may not import `evals`, so this reads only the fields it shows, ignoring
the rest; a file it cannot read is listed as skipped, never fatal.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.ui import scopes
from api.ui.charts import sparkline
from api.ui.rendering import render
from api.ui.routing import UiRoute, UiUser, container_of, page

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
RUNS_READ = 50  # the newest run files (run ids start with their UTC time)
RUNS_SHOWN = 15
MAX_RUN_BYTES = 50_000_000


class StoredMetric(BaseModel):
    """A metric of a stored run."""

    model_config = ConfigDict(extra="ignore")

    value: float | None = None
    ci: tuple[float, float] | None = None
    n: int = 0
    missing: int = 0
    higher_is_better: bool = True
    headline: bool = False


class StoredRun(BaseModel):
    """The parts of a stored eval run the page shows."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    name: str = ""
    suite: str = ""
    created_at: datetime
    git_commit: str | None = None
    git_dirty: bool | None = None
    model: str | None = None
    embedder: str = ""
    wall_s: float = 0.0
    skipped_parts: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, StoredMetric] = Field(default_factory=dict)

    def headline(self) -> dict[str, StoredMetric]:
        """The tracked metrics."""
        return {k: m for k, m in self.metrics.items() if m.headline}


class MetricTrend(BaseModel):
    """One tracked metric across runs, oldest first."""

    key: str
    higher_is_better: bool = True
    values: list[float | None]
    runs: list[str]

    @property
    def latest(self) -> float | None:
        """The newest value."""
        present = [v for v in self.values if v is not None]
        return present[-1] if present else None

    @property
    def change(self) -> float | None:
        """Newest value minus the one before."""
        present = [v for v in self.values if v is not None]
        return present[-1] - present[-2] if len(present) >= 2 else None

    @property
    def better(self) -> bool | None:
        """Whether the last change is an improvement (None without one)."""
        change = self.change
        if change is None or change == 0:
            return None
        return (change > 0) == self.higher_is_better


def read_runs(directory: Path, limit: int = RUNS_READ) -> tuple[list[StoredRun], list[str]]:
    """The newest runs in a folder, oldest first, and the files that could not be read."""
    if not directory.is_dir():
        return [], []
    paths = sorted(directory.glob("*.json"))[-limit:]
    runs: list[StoredRun] = []
    skipped: list[str] = []
    for path in paths:
        try:
            if path.stat().st_size > MAX_RUN_BYTES:
                raise ValueError("too large")
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            runs.append(StoredRun.model_validate(data))
        except (OSError, ValueError, ValidationError):
            skipped.append(path.name)
    runs.sort(key=lambda r: (r.created_at, r.run_id))
    return runs, skipped


def metric_trends(runs: list[StoredRun]) -> list[MetricTrend]:
    """Every headline metric seen in the runs, with one value per run that measured it."""
    keys: dict[str, bool] = {}
    for run in runs:
        for key, metric in run.headline().items():
            keys.setdefault(key, metric.higher_is_better)
    trends = []
    for key in sorted(keys):
        measured = [r for r in runs if key in r.metrics]
        trends.append(
            MetricTrend(
                key=key,
                higher_is_better=keys[key],
                values=[r.metrics[key].value for r in measured],
                runs=[r.run_id for r in measured],
            )
        )
    return trends


@router.get("/evals")
def evals_page(request: Request, user: Annotated[UiUser, Depends(page(scopes.EVALS))]) -> Response:
    """Recent eval runs and metric trends."""
    directory = container_of(request).settings.eval_runs_path
    runs, skipped = read_runs(directory)
    trends = metric_trends(runs)
    sparks = {
        t.key: sparkline(t.values, label=f"{t.key} over {len(t.values)} runs") for t in trends
    }
    context = {
        "runs": list(reversed(runs))[:RUNS_SHOWN],
        "trends": trends,
        "sparks": sparks,
        "skipped": skipped,
        "directory": directory,
    }
    return render(request, "evals.html", context)
