"""Builds the components a command needs, once, from the one Settings object."""

from __future__ import annotations

from functools import cached_property

from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from core.settings import Settings
from kb_ingest.pipeline import Ingestor
from retrieval.factory import build_index, build_searcher
from retrieval.index import KnowledgeIndex
from retrieval.search import HybridSearcher
from triage.engine import TriageEngine


class Container:
    """Lazily built, shared components for one CLI invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def index(self) -> KnowledgeIndex:
        """The knowledge index over the configured stores."""
        return build_index(self.settings)

    @cached_property
    def searcher(self) -> HybridSearcher:
        """Hybrid search over the index."""
        return build_searcher(self.settings, self.index)

    @cached_property
    def redactor(self) -> Redactor | None:
        """The configured redactor, or None when redaction is off."""
        return Redactor(self.settings.redact_kinds) if self.settings.redact else None

    @cached_property
    def ingestor(self) -> Ingestor:
        """The ingest pipeline."""
        return Ingestor(
            self.index,
            redactor=self.redactor,
            counter=TokenCounter(self.settings.tokenizer_encoding),
            max_tokens=self.settings.chunk_max_tokens,
            overlap_tokens=self.settings.chunk_overlap_tokens,
        )

    @cached_property
    def triage_engine(self) -> TriageEngine:
        """The triage engine (retrieval-only until an LLM writer is configured)."""
        return TriageEngine(self.searcher, redactor=self.redactor)
