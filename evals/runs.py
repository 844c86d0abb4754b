"""Eval runs: what was measured, on which data, with which code and configuration.

A run is one JSON file under `<data_dir>/evals/runs/<run_id>.json` (or `eval_runs_dir`),
written with sorted keys and one per-case result per line, so runs diff and can be committed.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import EvalError, NotFound
from evals.metrics import bootstrap_ci, mean_or_none

RUN_FORMAT = 1
CaseValue = str | bool | float | int | list[str] | None


class MetricValue(BaseModel):
    """One metric: its value (None when it cannot be computed), interval and counts."""

    model_config = ConfigDict(extra="forbid")

    value: float | None
    ci: tuple[float, float] | None = Field(default=None, description="bootstrap 95% interval")
    n: int = Field(default=0, description="cases the value rests on")
    missing: int = Field(default=0, description="cases that had no value (counted, not zero)")
    higher_is_better: bool = True
    headline: bool = Field(default=False, description="tracked by history and the gate")
    per_case: str | None = Field(
        default=None, description="the per-case value this metric is the mean of"
    )
    spread: list[float] | None = Field(
        default=None, description="the value of each repeat (LLM judge metrics)"
    )
    count: bool = Field(default=False, description="a count of events, not a rate")

    def display(self, digits: int = 3) -> str:
        """`0.812 [0.75, 0.87]`, or `n/a (3 missing)`: never a silent zero or NaN."""
        if self.value is None:
            return f"n/a ({self.missing} missing)" if self.missing else "n/a"
        if self.count:
            return f"{self.value:.0f} in {self.n} cases"
        text = f"{self.value:.{digits}f}"
        if self.ci is not None:
            text += f" [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"
        if self.missing:
            text += f" ({self.missing} n/a)"
        return text


class CaseResult(BaseModel):
    """What one system did on one example of one task."""

    model_config = ConfigDict(extra="forbid")

    part: str
    task: str
    system: str
    example_id: str
    truth: CaseValue = None
    predicted: CaseValue = None
    confidence: float | None = None
    values: dict[str, float | None] = Field(default_factory=dict)
    note: str = ""

    @property
    def key(self) -> str:
        """`part/task/system`, the prefix of its metrics."""
        return f"{self.part}/{self.task}/{self.system}"


class PartInfo(BaseModel):
    """One suite of a run and the data it was measured on."""

    model_config = ConfigDict(extra="forbid")

    name: str
    dataset_hash: str
    source: str = ""
    n_examples: int = 0
    n_corpus_cases: int = 0
    n_runbooks: int = 0
    skipped_records: int = 0
    tasks: list[str] = Field(default_factory=list)
    train_cutoff: datetime | None = None
    n_train: int = 0
    wall_s: float = 0.0


class EvalRun(BaseModel):
    """A stored eval run."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = RUN_FORMAT
    run_id: str
    name: str
    suite: str
    created_at: datetime
    git_commit: str | None = None
    git_dirty: bool | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    embedder: str = ""
    model: str | None = None
    prompt_version: str | None = None
    parts: list[PartInfo] = Field(default_factory=list)
    skipped_parts: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    cases: list[CaseResult] = Field(default_factory=list)
    wall_s: float = 0.0

    def part(self, name: str) -> PartInfo | None:
        """The part of that name, if measured."""
        return next((p for p in self.parts if p.name == name), None)

    def headline(self) -> dict[str, MetricValue]:
        """The tracked metrics."""
        return {k: m for k, m in self.metrics.items() if m.headline}


def summarise(
    values: Sequence[float | None],
    *,
    per_case: str | None = None,
    headline: bool = False,
    higher_is_better: bool = True,
    n_resamples: int = 1000,
    seed: int = 7,
) -> MetricValue:
    """Mean of per-case values with a bootstrap 95% interval; missing values are counted."""
    value, n, missing = mean_or_none(values)
    ci = None
    if value is not None:
        present = [float(v) for v in values if v is not None]
        lo, hi = bootstrap_ci(present, n_resamples=n_resamples, seed=seed)
        ci = (lo, hi)
    return MetricValue(
        value=value,
        ci=ci,
        n=n,
        missing=missing,
        higher_is_better=higher_is_better,
        headline=headline,
        per_case=per_case,
    )


# -- identity of a run ---------------------------------------------------------------------
def git_state(cwd: Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether the work tree has changes), or (None, None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return commit.stdout.strip() or None, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def new_run_id(name: str, when: datetime | None = None) -> str:
    """`20261128T101500Z-<name>`: sorts by time, readable, safe as a file name."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    return f"{when:%Y%m%dT%H%M%SZ}-{slug[:60]}"


# -- storage ------------------------------------------------------------------------------
def run_to_json(run: EvalRun) -> str:
    """Sorted keys, indented; each per-case result on its own line (small diffs)."""
    payload = run.model_dump(mode="json", exclude={"cases"})
    head = json.dumps(payload, indent=1, sort_keys=True, ensure_ascii=False)
    lines = [
        json.dumps(c.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) for c in run.cases
    ]
    body = ",\n".join(lines)
    cases = f'"cases": [\n{body}\n]' if lines else '"cases": []'
    return head[: -len("\n}")] + f",\n {cases}\n}}\n"


def save_run(run: EvalRun, directory: Path) -> Path:
    """Write the run as `<directory>/<run_id>.json`; an existing file is never overwritten."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{run.run_id}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = directory / f"{run.run_id}-{suffix}.json"
    if suffix > 1:
        run = run.model_copy(update={"run_id": path.stem})
    path.write_text(run_to_json(run), encoding="utf-8")
    return path


def load_run(path: str | Path) -> EvalRun:
    """Read a run file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"no run file {path}", path=str(path)) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalError(f"cannot read run {path}: {exc}", path=str(path)) from exc
    if not isinstance(data, dict) or data.get("format_version") != RUN_FORMAT:
        raise EvalError(f"{path} is not a Casebook eval run (format {RUN_FORMAT})")
    try:
        return EvalRun.model_validate(data)
    except ValidationError as exc:
        raise EvalError(f"{path}: invalid run: {exc.error_count()} errors") from exc


def list_runs(directory: Path) -> list[EvalRun]:
    """Every run in a folder, oldest first; unreadable files are skipped."""
    runs = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            runs.append(load_run(path))
        except EvalError:
            continue
    return sorted(runs, key=lambda r: (r.created_at, r.run_id))


def find_run(ref: str, directory: Path) -> EvalRun:
    """A run by file path, run id, unique id prefix, or `latest`."""
    path = Path(ref)
    if path.suffix == ".json" and path.exists():
        return load_run(path)
    if ref == "latest":
        runs = list_runs(directory)
        if not runs:
            raise NotFound(f"no runs in {directory}")
        return runs[-1]
    exact = directory / f"{ref}.json"
    if exact.exists():
        return load_run(exact)
    matches = sorted(directory.glob(f"{ref}*.json")) if directory.is_dir() else []
    if len(matches) == 1:
        return load_run(matches[0])
    if len(matches) > 1:
        raise EvalError(f"{ref!r} matches {len(matches)} runs; give more of the id")
    raise NotFound(f"no run {ref!r} in {directory}", run=ref)
