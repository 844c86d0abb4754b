"""Inputs and views of the service workflows (the API uses them as request/response bodies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.domain import Case
from storage.records import JobRecord, ReviewRecord
from triage.draft import TriageDraft

PriorityLevel = Literal["P1", "P2", "P3", "P4"]


class NewCase(BaseModel):
    """A ticket to create and triage."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)
    external_id: str | None = Field(
        default=None,
        max_length=150,
        pattern=r"^[A-Za-z0-9._:@-]+$",
        description="id in the source system; the case id becomes SOURCE:EXTERNAL_ID",
    )
    source: str = Field(default="api", max_length=40, pattern=r"^[a-z0-9_-]+$")
    created_at: datetime | None = None
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


class ReviewInput(BaseModel):
    """An engineer's verdict on a draft: accept, edit (with corrections) or reject."""

    model_config = ConfigDict(extra="forbid")

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


class ResolveInput(BaseModel):
    """How a case was resolved; the case then joins the searchable past cases."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=50_000)
    root_cause: str | None = Field(default=None, max_length=10_000)
    runbook_ids: list[str] = Field(default_factory=list, max_length=50)
    queue: str | None = Field(default=None, max_length=100)
    priority: PriorityLevel | None = None


class RunbookInput(BaseModel):
    """A runbook written or replaced through the API."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=1_000_000)
    format: Literal["markdown", "html"] = "markdown"
    tags: list[str] = Field(default_factory=list, max_length=50)
    product: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=1000, description="path or URL")
