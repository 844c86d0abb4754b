"""The regression gate: a tracked metric may not fall outside its baseline's interval.

For every headline metric of the baseline, the candidate fails when it is worse than the
far end of the baseline's 95% interval (below the lower bound when higher is better, above
the upper bound otherwise), plus an optional tolerance. A metric without an interval must
not get worse at all. A part whose data changed fails: the baseline no longer describes
it, and moving the baseline is a decision made on purpose (docs/evals.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from evals.runs import EvalRun, MetricValue

Status = Literal["pass", "fail", "skipped"]


class GateCheck(BaseModel):
    """One tracked metric checked."""

    key: str
    status: Status
    baseline: float | None = None
    candidate: float | None = None
    limit: float | None = Field(default=None, description="the worst value that still passes")
    reason: str = ""


class GateResult(BaseModel):
    """Every check; passed only when none failed."""

    baseline: str
    candidate: str
    checks: list[GateCheck] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="part-level failures")
    warnings: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No failed check and no part-level problem."""
        return not self.problems and all(c.status != "fail" for c in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        """The failed checks."""
        return [c for c in self.checks if c.status == "fail"]


def limit_of(metric: MetricValue, tolerance: float = 0.0) -> float | None:
    """The worst candidate value the baseline metric allows."""
    if metric.value is None:
        return None
    if metric.higher_is_better:
        low = metric.ci[0] if metric.ci is not None else metric.value
        return min(low, metric.value) - tolerance
    high = metric.ci[1] if metric.ci is not None else metric.value
    return max(high, metric.value) + tolerance


def gate(baseline: EvalRun, candidate: EvalRun, *, tolerance: float = 0.0) -> GateResult:
    """Check every headline metric of the baseline against the candidate run."""
    result = GateResult(baseline=baseline.run_id, candidate=candidate.run_id)
    skipped_parts: set[str] = set()
    for part in baseline.parts:
        mine = candidate.part(part.name)
        if mine is None:
            if part.name in candidate.skipped_parts:
                skipped_parts.add(part.name)
                result.warnings.append(
                    f"part {part.name} not measured: {candidate.skipped_parts[part.name]}"
                )
            else:
                result.problems.append(f"part {part.name} is missing from the candidate run")
        elif mine.dataset_hash != part.dataset_hash:
            result.problems.append(
                f"data of part {part.name} changed ({part.dataset_hash[:12]} -> "
                f"{mine.dataset_hash[:12]}): re-run and commit a new baseline on purpose"
            )
    for key in ("embedder", "model", "prompt_version"):
        if getattr(baseline, key) != getattr(candidate, key):
            result.warnings.append(
                f"{key} differs: baseline {getattr(baseline, key)!r}, "
                f"candidate {getattr(candidate, key)!r}"
            )
    for key, metric in sorted(baseline.headline().items()):
        part_name = key.split("/", 1)[0]
        if part_name in skipped_parts:
            result.checks.append(
                GateCheck(
                    key=key, status="skipped", baseline=metric.value, reason="part not measured"
                )
            )
            continue
        if metric.value is None:
            result.checks.append(GateCheck(key=key, status="skipped", reason="n/a in the baseline"))
            continue
        found = candidate.metrics.get(key)
        limit = limit_of(metric, tolerance)
        check = GateCheck(key=key, status="pass", baseline=metric.value, limit=limit)
        if found is None or found.value is None:
            check.status = "fail"
            check.reason = "missing from the candidate" if found is None else "n/a in candidate"
        else:
            check.candidate = found.value
            assert limit is not None
            worse = found.value < limit if metric.higher_is_better else found.value > limit
            if worse:
                check.status = "fail"
                side = "below" if metric.higher_is_better else "above"
                check.reason = f"{found.value:.4f} is {side} the allowed {limit:.4f}"
        result.checks.append(check)
    return result
