"""The FastAPI application: routes under /v1, problem+json errors, auth, metrics, worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.body_limit import BodySizeLimitMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.openapi import install_openapi
from api.problems import install_problem_handlers
from api.rate_limit import RateLimiter
from api.request_context import RequestContextMiddleware, configure_json_logging
from api.routes import cases, health, jobs, keys, runbooks, search, webhooks
from api.ui import pages as ui_pages
from core.offline import configure_offline_env
from core.settings import Settings
from service.container import Container
from service.triage_jobs import DraftObserver
from service.worker import Worker
from storage.records import JobRecord
from triage.draft import TriageDraft

log = logging.getLogger(__name__)

DESCRIPTION = """AI-assisted triage and knowledge retrieval for technical support engineering.

Authenticate with `Authorization: Bearer <API key>` (create keys with `casebook keys create`).
Errors are RFC 9457 `application/problem+json`.
"""


def _observe_drafts(metrics: Metrics) -> DraftObserver:
    def observe(draft: TriageDraft, seconds: float) -> None:
        p = draft.provenance
        metrics.observe_triage(p.mode, seconds)
        if p.model and (p.input_tokens or p.output_tokens):
            metrics.record_llm_usage(p.model, p.input_tokens, p.output_tokens, p.cost_usd)

    return observe


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    """Build the app; clients are created in its lifespan, not here."""
    settings = container.settings if container is not None else (settings or Settings())
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_offline_env()
        configure_json_logging(settings.log_level)
        built = container or Container(settings)
        built.draft_observer = _observe_drafts(metrics)
        built.database  # noqa: B018 - migrate before the first request
        built.cases.forget_old_idempotency_keys()  # retried requests older than a week
        metrics.set_queue_depth_source(built.job_queue.depth)
        app.state.container = built
        worker: Worker | None = None
        threads = settings.worker_threads if start_worker in (None, True) else 0
        if start_worker is not False and threads > 0:
            worker = built.worker()

            def outcome(job: JobRecord, result: str, _seconds: float) -> None:
                metrics.record_job(job.kind, result)

            worker.on_outcome = outcome
            worker.start(threads)
        log.info("casebook api ready", extra={"fields": {"worker_threads": threads}})
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="Casebook",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    install_problem_handlers(app, metrics)
    install_openapi(app)
    for module in (cases, search, runbooks, jobs, keys, webhooks, health, ui_pages):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=ui_pages.STATIC_DIR), name="ui-static")
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides={"/v1/ingest": settings.max_upload_bytes + 100_000},
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)  # added last: outermost
    return app
