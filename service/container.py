"""The composition root: builds each component once, lazily, from the one Settings object.

The CLI and the API share it; nothing here connects to anything until first used.
"""

from __future__ import annotations

from functools import cached_property

from casetext.redaction import Redactor
from casetext.tokens import TokenCounter
from core.settings import Settings
from kb_ingest.pipeline import Ingestor
from retrieval.factory import build_index, build_searcher
from retrieval.index import KnowledgeIndex
from retrieval.search import HybridSearcher
from service.cases import TRIAGE, CaseService
from service.knowledge import INGEST, IngestJobHandler, KnowledgeService
from service.signal import JobSignal
from service.triage_jobs import DraftObserver, TriageJobHandler
from service.worker import JobHandler, Worker
from storage.api_keys import ApiKeyStore
from storage.db import Database
from storage.jobs import JobQueue
from triage.automation import AutomationThresholds, QueueThresholds
from triage.engine import TriageEngine
from triage.llm import CallLog, LiteLLMBackend, LLMGateway
from triage.llm_draft import LLMDraftWriter
from triage.queues import load_queues
from triage.router import QueueRouter


class Container:
    """Lazily built, shared components for one process (a CLI command or the API)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.signal = JobSignal()
        self.draft_observer: DraftObserver | None = None

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
    def queues(self) -> dict[str, str]:
        """Allowed queues with descriptions: the queues file, else queues of past cases."""
        if self.settings.queues_file is not None:
            return load_queues(self.settings.queues_file)
        return {q: "" for q in self.index.lexical.distinct_queues()}

    @cached_property
    def llm_writer(self) -> LLMDraftWriter | None:
        """The LLM draft writer when an LLM model is configured, else None."""
        s = self.settings
        if not s.llm_model:
            return None
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        backend = LiteLLMBackend(
            s.llm_model,
            api_base=s.llm_api_base,
            api_key=key,
            fallbacks=s.llm_fallbacks,
            extra_params={"temperature": s.llm_temperature},
        )
        gateway = LLMGateway(
            backend,
            model_name=s.llm_model,
            max_retries=s.llm_max_retries,
            timeout_s=s.llm_timeout_s,
            response_format_mode=s.llm_response_format,
            call_log=CallLog(s.data_dir / "llm_calls.sqlite3"),
        )
        return LLMDraftWriter(
            gateway,
            TokenCounter(s.tokenizer_encoding),
            queues=self.queues,
            context_tokens=s.llm_context_tokens,
        )

    @cached_property
    def router(self) -> QueueRouter | None:
        """The trained router, when `casebook router train` has made one."""
        path = self.settings.router_path
        return QueueRouter.load(path, embedder=self.index.embedder) if path.exists() else None

    @cached_property
    def thresholds(self) -> AutomationThresholds:
        """Automation thresholds from settings."""
        s = self.settings
        return AutomationThresholds(
            default=QueueThresholds(preselect=s.router_preselect, auto_apply=s.router_auto_apply),
            min_examples=s.router_min_examples,
        )

    @cached_property
    def triage_engine(self) -> TriageEngine:
        """The triage engine: LLM drafts when configured, retrieval-only otherwise."""
        return TriageEngine(
            self.searcher,
            redactor=self.redactor,
            router=self.router,
            writer=self.llm_writer,
            queues=list(self.queues),
            thresholds=self.thresholds,
        )

    # -- service --------------------------------------------------------------------------
    @cached_property
    def database(self) -> Database:
        """The service database, migrated to the newest schema."""
        db = Database(self.settings.db_url)
        db.migrate()
        return db

    @cached_property
    def job_queue(self) -> JobQueue:
        """The durable job queue."""
        return JobQueue(self.database, lease_s=self.settings.job_lease_s)

    @cached_property
    def api_keys(self) -> ApiKeyStore:
        """API keys and their roles."""
        return ApiKeyStore(self.database)

    @cached_property
    def cases(self) -> CaseService:
        """Case workflows."""
        return CaseService(
            self.database,
            self.job_queue,
            lambda: self.index,
            redactor=self.redactor,
            queues=lambda: list(self.queues),
            searcher=lambda: self.searcher,
            signal=self.signal,
            max_attempts=self.settings.job_max_attempts,
        )

    @cached_property
    def knowledge(self) -> KnowledgeService:
        """Runbook writes and ingest uploads."""
        return KnowledgeService(
            self.database,
            lambda: self.index,
            lambda: self.ingestor,
            uploads_dir=self.settings.data_dir / "uploads",
            signal=self.signal,
        )

    def worker(self, *, worker_id: str | None = None) -> Worker:
        """A worker for triage and ingest jobs (threads started by the caller)."""
        handlers: dict[str, JobHandler] = {
            TRIAGE: TriageJobHandler(
                self.database, lambda: self.triage_engine, observe=self.draft_observer
            ),
            INGEST: IngestJobHandler(lambda: self.ingestor),
        }
        return Worker(
            self.job_queue,
            handlers,
            worker_id=worker_id,
            poll_s=self.settings.worker_poll_s,
            signal=self.signal,
        )
