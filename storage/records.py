"""Plain pydantic records returned by storage, so callers never hold ORM rows or sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from core.domain import Case


class CaseRecord(BaseModel):
    """A stored case with where its draft stands."""

    case: Case
    draft_status: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None


class DraftRecord(BaseModel):
    """One stored draft version; `draft` is the TriageDraft JSON."""

    case_id: str
    version: int
    job_id: int | None
    mode: str
    created_at: datetime
    draft: dict[str, Any]


class ReviewRecord(BaseModel):
    """One stored review of a draft version."""

    id: int
    case_id: str
    draft_version: int
    action: str
    reviewer: str
    comment: str | None
    corrected_queue: str | None
    corrected_priority: str | None
    data: dict[str, Any]
    created_at: datetime


class JobRecord(BaseModel):
    """A job's state as stored."""

    id: int
    kind: str
    state: str
    case_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    run_after: datetime
    locked_by: str | None
    lease_until: datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ApiKeyRecord(BaseModel):
    """An API key's public part (never the secret)."""

    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class AuditRecord(BaseModel):
    """One audit-log entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
