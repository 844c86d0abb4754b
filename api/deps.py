"""FastAPI dependency aliases: routes ask for what they need; nothing is built per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import require
from core.settings import Settings
from retrieval.search import HybridSearcher
from service.cases import CaseService
from service.container import Container
from service.knowledge import KnowledgeService
from storage.api_keys import ApiKeyStore
from storage.jobs import JobQueue
from storage.records import ApiKeyRecord


def get_container(request: Request) -> Container:
    """The process's container, built in the app lifespan."""
    container: Container = request.app.state.container
    return container


def get_settings(request: Request) -> Settings:
    """The one Settings object."""
    return get_container(request).settings


def get_cases(request: Request) -> CaseService:
    """Case workflows."""
    return get_container(request).cases


def get_knowledge(request: Request) -> KnowledgeService:
    """Runbook writes and uploads."""
    return get_container(request).knowledge


def get_searcher(request: Request) -> HybridSearcher:
    """Hybrid search."""
    return get_container(request).searcher


def get_jobs(request: Request) -> JobQueue:
    """The job queue."""
    return get_container(request).job_queue


def get_keys(request: Request) -> ApiKeyStore:
    """API keys."""
    return get_container(request).api_keys


ContainerDep = Annotated[Container, Depends(get_container)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CasesDep = Annotated[CaseService, Depends(get_cases)]
KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
SearcherDep = Annotated[HybridSearcher, Depends(get_searcher)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
KeysDep = Annotated[ApiKeyStore, Depends(get_keys)]

CaseReader = Annotated[ApiKeyRecord, Depends(require("cases:read"))]
CaseCreator = Annotated[ApiKeyRecord, Depends(require("cases:create"))]
CaseWriter = Annotated[ApiKeyRecord, Depends(require("cases:write"))]
Reviewer = Annotated[ApiKeyRecord, Depends(require("drafts:review"))]
Searcher = Annotated[ApiKeyRecord, Depends(require("search"))]
RunbookReader = Annotated[ApiKeyRecord, Depends(require("runbooks:read"))]
RunbookWriter = Annotated[ApiKeyRecord, Depends(require("runbooks:write"))]
Ingester = Annotated[ApiKeyRecord, Depends(require("ingest"))]
JobReader = Annotated[ApiKeyRecord, Depends(require("jobs:read"))]
Admin = Annotated[ApiKeyRecord, Depends(require("admin"))]
