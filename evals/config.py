"""What an eval run is run with: embedder, fusion weights, router, LLM, prompt and judge.

Unset fields take the values of the Casebook settings, so a run measures the configuration
in use; the resolved values are stored with the run.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import EvalError
from core.settings import Settings
from retrieval.search import FusionWeights


class FusionConfig(BaseModel):
    """Hybrid search fusion (weighted reciprocal-rank fusion)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=20, ge=1)
    dense: float = Field(default=1.0, ge=0)
    bm25: float = Field(default=1.5, ge=0)
    signature: float = Field(default=0.5, ge=0)
    pool: int = Field(default=100, ge=1)

    def weights(self) -> FusionWeights:
        """As the searcher takes them."""
        return FusionWeights(
            k=self.k, dense=self.dense, bm25=self.bm25, signature=self.signature, pool=self.pool
        )


class EvalConfig(BaseModel):
    """One eval configuration (a TOML or JSON file for `casebook eval run --config`)."""

    model_config = ConfigDict(extra="forbid")

    embedder: str | None = Field(default=None, description="embedding model; None: settings")
    fusion: FusionConfig | None = Field(default=None, description="None: settings")
    router: bool = Field(default=True, description="train and run the learned router")
    systems: list[str] | None = Field(
        default=None, description="only these systems (e.g. ['router', 'hybrid']); None: all"
    )
    llm_model: str | None = Field(default=None, description="None: settings; '' for no LLM")
    prompt_version: str = "latest"
    llm_limit: int | None = Field(
        default=20, ge=1, description="examples per suite drafted by the LLM (it is slow)"
    )
    judge: bool = Field(default=True, description="run the LLM judge when an LLM is set")
    judge_model: str | None = Field(default=None, description="None: the drafting model")
    judge_repeats: int = Field(default=3, ge=1, le=10)
    judge_prompt_version: str = "latest"
    coverage_threshold: float = Field(
        default=0.5, ge=-1, le=1, description="best runbook dense similarity below: not covered"
    )
    match_threshold: float = Field(
        default=0.59,
        ge=0,
        le=1,
        description="kb_coverage match score below: not covered (CASEBOOK_COVERAGE_THRESHOLD)",
    )
    overlap_threshold: float = Field(default=0.5, ge=0, le=1)
    max_examples: int | None = Field(default=None, ge=1, description="per suite, first N")
    bootstrap_resamples: int = Field(default=1000, ge=100)
    seed: int = 13

    def resolved(self, settings: Settings) -> EvalConfig:
        """Every None that settings can fill, filled."""
        return self.model_copy(
            update={
                "embedder": self.embedder or settings.embedding_model,
                "fusion": self.fusion
                or FusionConfig(
                    k=settings.fusion_k,
                    dense=settings.weight_dense,
                    bm25=settings.weight_bm25,
                    signature=settings.weight_signature,
                    pool=settings.candidate_pool,
                ),
                "llm_model": settings.llm_model if self.llm_model is None else self.llm_model,
            }
        )

    def wants(self, system: str) -> bool:
        """Whether a system is to be run."""
        if system == "router" and not self.router:
            return False
        return self.systems is None or system in self.systems


def load_config(path: str | Path | None) -> EvalConfig:
    """An EvalConfig from a TOML or JSON file; defaults when no file is given."""
    if path is None:
        return EvalConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read eval config {path}: {exc}", path=str(path)) from exc
    if isinstance(data, dict) and "eval" in data and len(data) == 1:
        data = data["eval"]  # a `[eval]` table is accepted too
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        raise EvalError(f"{path}: invalid eval config: {exc}", path=str(path)) from exc
