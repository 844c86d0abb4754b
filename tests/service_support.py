"""Builds a service container on real storage with fast fakes behind the retrieval Protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.settings import Settings
from retrieval.index import KnowledgeIndex
from retrieval.lexical import LexicalIndex
from retrieval.memory_store import MemoryVectorStore
from service.container import Container
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SECRETS = {"github": "gh-secret", "zendesk": "zd-secret", "jira": "jira-secret"}


def make_container(
    tmp_path: Path, db_url: str, *, seed_cases: int | None = 120, **overrides: Any
) -> Container:
    """A container on `db_url` whose index holds the demo runbooks and some demo cases."""
    options: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "queues_file": DEMO / "queues.toml",
        "worker_threads": 0,
        "rate_limit_per_minute": 0,
        "github_webhook_secret": SECRETS["github"],
        "zendesk_webhook_secret": SECRETS["zendesk"],
        "jira_webhook_secret": SECRETS["jira"],
        "llm_model": "",
    }
    options.update(overrides)
    settings = Settings(**options)
    container = Container(settings)
    container.index = KnowledgeIndex(  # type: ignore[misc]
        HashingEmbedder(), MemoryVectorStore(), LexicalIndex(settings.lexical_path)
    )
    container.ingestor.ingest_runbooks(DEMO / "runbooks")
    if seed_cases:
        lines = (DEMO / "cases.jsonl").read_text(encoding="utf-8").splitlines()[:seed_cases]
        subset = tmp_path / "seed_cases.jsonl"
        subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
        container.ingestor.ingest_cases(subset)
    return container
