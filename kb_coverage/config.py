"""Tunables of coverage analytics, with defaults measured on the MiniLM embedder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.settings import Settings

_THRESHOLD = float(Settings.model_fields["coverage_threshold"].default)


class CoverageConfig(BaseModel):
    """How cases are matched, decided, clustered and checked for spikes."""

    model_config = ConfigDict(extra="forbid")

    # Runbook match: a case is covered when its best match scores at least this much.
    # The default is Settings.coverage_threshold's (calibrated by `casebook coverage calibrate`).
    threshold: float = Field(default=_THRESHOLD, ge=0, le=1)
    embed_batch: int = Field(default=16, ge=1, le=1024)

    # History: how similar resolved cases were handled. Agents link the runbook they used
    # (the KCS "link rate"), so a neighbourhood resolved without links is a gap even when
    # a runbook about the same symptom matches the text well.
    use_history: bool = True
    neighbours: int = Field(default=5, ge=1, le=100)
    neighbour_similarity: float = Field(default=0.6, ge=-1, le=1)
    min_neighbours: int = Field(default=3, ge=1)
    min_link_rate: float = Field(default=0.5, ge=0, le=1)

    # Gap clusters: average-linkage agglomerative clustering on cosine distance; sharing a
    # rare error signature adds `signature_bonus` to two cases' similarity.
    cluster_distance: float = Field(default=0.5, gt=0, le=2)
    signature_bonus: float = Field(default=0.15, ge=0, le=1)
    min_cluster_size: int = Field(default=3, ge=1)
    # The similarity matrix is quadratic: beyond this many uncovered cases, the most recent
    # ones are clustered and the rest counted as unclustered.
    max_cluster_cases: int = Field(default=5000, ge=2)
    label_terms: int = Field(default=5, ge=1, le=20)
    representatives: int = Field(default=3, ge=1, le=20)
    recent_days: int = Field(default=30, ge=1)

    # Spikes: weekly volume against the median and MAD of the trailing weeks.
    baseline_weeks: int = Field(default=8, ge=2)
    min_baseline_weeks: int = Field(default=4, ge=1)
    spike_z: float = Field(default=3.5, gt=0)
    spike_min_count: int = Field(default=5, ge=1)
