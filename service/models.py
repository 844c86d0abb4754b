"""Inputs and views of the service workflows (the API uses them as request/response bodies)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from core.domain import Case
from storage.records import JobRecord, ReviewRecord
from triage.draft import TriageDraft

PriorityLevel = Literal["P1", "P2", "P3", "P4"]


def has_nul(value: Any) -> bool:
    """True when a string anywhere in `value` (dict keys included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def utc_instant(value: datetime) -> datetime:
    """The same instant in UTC (naive means UTC); rejects times that fall outside years 1-9999."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+14:00 is a valid ISO string but before datetime.min in UTC.
        raise ValueError("datetime is out of range once converted to UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(utc_instant)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are errors, and so are NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text or JSONB; refusing it everywhere keeps both
        # backends alike and makes it a 422 instead of a storage failure.
        if has_nul(value):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return value


class NewCase(Input):
    """A ticket to create and triage."""

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)
    external_id: str | None = Field(
        default=None,
        max_length=150,
        pattern=r"^[A-Za-z0-9._:@-]+$",
        description="id in the source system; the case id becomes SOURCE:EXTERNAL_ID",
    )
    source: str = Field(default="api", max_length=40, pattern=r"^[a-z0-9_-]+$")
    created_at: UtcDatetime | None = None
    queue: str | None = Field(default=None, max_length=100)
    priority: PriorityLevel | None = None
    product: str | None = Field(default=None, max_length=100)
    component: str | None = Field(default=None, max_length=100)
    customer: str | None = Field(default=None, max_length=200)
    account: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        if any(not t or len(t) > 100 for t in tags):
            raise ValueError("tags must be 1-100 characters")
        return tags


class CreatedCase(BaseModel):
    """What POST /cases answers: the case id and where its draft stands."""

    case_id: str
    draft_status: str
    job_id: int | None
    created: bool = Field(description="false when an existing case was returned instead")


class CaseView(BaseModel):
    """A case with its workflow state."""

    case: Case
    draft_status: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    last_error: str | None = Field(default=None, description="why the latest triage job failed")


class DraftVersion(BaseModel):
    """One version of a draft."""

    version: int
    mode: str
    created_at: datetime
    job_id: int | None
    draft: TriageDraft


class DraftView(BaseModel):
    """The latest draft of a case and the list of its versions."""

    case_id: str
    draft_status: str
    latest: DraftVersion | None
    versions: list[DraftVersion]
    jobs: list[JobRecord] = Field(default_factory=list)


class ReviewInput(Input):
    """An engineer's verdict on a draft: accept, edit (with corrections) or reject."""

    action: Literal["accept", "edit", "reject"]
    reviewer: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=10_000)
    draft_version: int | None = Field(default=None, ge=1, description="default: the latest")
    queue: str | None = Field(default=None, max_length=100)
    priority: PriorityLevel | None = None
    hypotheses: list[int] | None = Field(
        default=None, description="indexes of the hypotheses the engineer keeps, best first"
    )
    response: str | None = Field(default=None, max_length=50_000, description="final response")


class ReviewView(BaseModel):
    """A stored review."""

    review: ReviewRecord
    case: CaseView


class ResolveInput(Input):
    """How a case was resolved; the case then joins the searchable past cases."""

    resolution: str = Field(min_length=1, max_length=50_000)
    root_cause: str | None = Field(default=None, max_length=10_000)
    runbook_ids: list[str] = Field(default_factory=list, max_length=50)
    queue: str | None = Field(default=None, max_length=100)
    priority: PriorityLevel | None = None


class RunbookInput(Input):
    """A runbook written or replaced through the API."""

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=1_000_000)
    format: Literal["markdown", "html"] = "markdown"
    tags: list[str] = Field(default_factory=list, max_length=50)
    product: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=1000, description="path or URL")
