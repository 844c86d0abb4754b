"""Casebook settings: one pydantic-settings object, built once at startup and injected.

Sources, highest first: constructor arguments, `CASEBOOK_*` environment variables, a TOML
config file (`CASEBOOK_CONFIG`, else `./casebook.toml` when present), then the defaults,
which are embedded and offline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LOCAL_EMBEDDER = "local/all-MiniLM-L6-v2-int8"


class Settings(BaseSettings):
    """Every tunable of Casebook, with embedded, offline defaults."""

    model_config = SettingsConfigDict(env_prefix="CASEBOOK_", extra="ignore")

    # Where embedded Chroma, the lexical index and the database live.
    data_dir: Path = Path(".casebook")

    # Vector store: embedded PersistentClient (default) or a Chroma server over HTTP.
    chroma_mode: Literal["embedded", "http"] = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    collection_prefix: str = "casebook"

    # Embeddings: the bundled ONNX MiniLM, or any litellm embedding model string.
    embedding_model: str = LOCAL_EMBEDDER
    # 16, not 32: on long tickets onnxruntime memory grows steeply with batch size (0.9 vs
    # 1.6 GB peak) and 32 was not reliably faster (benchmarks/embedder_speed.py).
    embedding_batch_size: int = Field(default=16, ge=1, le=1024)
    embedding_api_base: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_threads: int = Field(default=0, ge=0, description="0: onnxruntime's default")
    query_max_tokens: int = Field(
        default=128,
        ge=2,
        le=256,
        description="the bundled model embeds a search query from its first N tokens",
    )

    # LLM for drafting; empty means retrieval-only drafts.
    llm_model: str = ""
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)

    llm_fallbacks: list[str] = Field(
        default_factory=list, description="litellm model strings tried when the main one fails"
    )
    # Low temperature: a triage draft should be repeatable, not creative.
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_response_format: Literal["json_schema", "json_object", "none"] = "json_schema"
    llm_context_tokens: int = Field(default=8192, ge=1024)
    # Queues the router and the LLM may choose from, with descriptions (TOML, see
    # demo/queues.toml); without it, the queues seen in past cases.
    queues_file: Path | None = None

    # Routing automation: the trained router's calibrated confidence picks suggest,
    # preselect or auto-apply; queues with fewer labelled examples never auto-apply.
    router_preselect: float = Field(default=0.6, ge=0, le=1)
    router_auto_apply: float | None = Field(default=0.95, ge=0, le=1)
    router_min_examples: int = Field(default=50, ge=1)

    # The `local` LLM profile: a llama.cpp server on 127.0.0.1 (`casebook llm local ...`).
    local_llm_model: str = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    local_llm_port: int = Field(default=8091, ge=1, le=65535)
    local_llm_runtime: Literal["auto", "llama-server", "llama-cpp-python"] = Field(
        default="auto", description="prebuilt llama-server needs AVX-512; auto checks the CPU"
    )
    models_dir: Path | None = Field(default=None, description="default: DATA_DIR/models")

    # Chunking of runbooks (and long cases), sized in tiktoken tokens.
    chunk_max_tokens: int = Field(default=200, ge=16, le=8192)
    chunk_overlap_tokens: int = Field(default=30, ge=0)
    tokenizer_encoding: str = "cl100k_base"

    # PII redaction before anything is stored, embedded or sent to an LLM.
    redact: bool = True
    redact_kinds: list[str] = Field(
        default_factory=lambda: ["email", "phone", "card", "secret", "bearer", "ip"]
    )

    # Hybrid search: weighted reciprocal-rank fusion of the three channels. Defaults chosen
    # on GitBugs Hadoop duplicates and Prometheus alert->runbook (README "Evals"): hybrid is
    # at least as good as the better single channel on both, and neighbouring values agree.
    fusion_k: int = Field(default=20, ge=1)
    weight_dense: float = Field(default=1.0, ge=0)
    weight_bm25: float = Field(default=1.5, ge=0)
    weight_signature: float = Field(default=0.5, ge=0)
    bm25_title_weight: float = Field(default=2.0, ge=0)
    candidate_pool: int = Field(default=100, ge=1, le=2000)

    # KB coverage: a case is covered when its best runbook match scores at least this
    # (kb_coverage/matching.py). Calibrated for the bundled MiniLM on the calibration half of
    # the Prometheus alerts; `casebook coverage calibrate --alerts PATH` reproduces it.
    coverage_threshold: float = Field(default=0.59, ge=0, le=1)

    # --- service: database, jobs, API ----------------------------------------------------
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite at DATA_DIR/casebook.db"
    )
    job_max_attempts: int = Field(default=5, ge=1, le=50)
    job_lease_s: float = Field(
        default=120.0, gt=0, description="a silent worker loses its job after"
    )
    worker_threads: int = Field(default=1, ge=0, le=32, description="in-process workers; 0: none")
    worker_poll_s: float = Field(default=1.0, gt=0)
    rate_limit_per_minute: int = Field(default=600, ge=0, description="per API key; 0: off")
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_upload_bytes: int = Field(default=50_000_000, ge=1024)
    github_webhook_secret: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None
    log_level: str = "INFO"
    metrics_public: bool = Field(default=False, description="serve /metrics without a key")

    # Evals: the shared real data sets, and where eval runs are stored (default
    # DATA_DIR/evals/runs).
    shared_data: Path = Path("../shared/data")
    eval_runs_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add the optional TOML config file below the environment."""
        config = os.environ.get("CASEBOOK_CONFIG")
        path = Path(config) if config else Path("casebook.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The database URL in use (SQLite in the data dir unless one is configured)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'casebook.db'}"

    @property
    def chroma_path(self) -> Path:
        """Directory of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        """SQLite file holding the document catalog and the BM25 (FTS5) index."""
        return self.data_dir / "lexical.sqlite3"

    @property
    def router_path(self) -> Path:
        """Directory of the trained router."""
        return self.data_dir / "router"

    @property
    def eval_runs_path(self) -> Path:
        """Directory of stored eval runs."""
        return self.eval_runs_dir or self.data_dir / "evals" / "runs"

    @property
    def models_path(self) -> Path:
        """Where local model files are assembled."""
        return self.models_dir or self.data_dir / "models"

    @property
    def uses_local_embedder(self) -> bool:
        """True when embeddings come from the bundled ONNX model."""
        return self.embedding_model == LOCAL_EMBEDDER
