"""Domain types shared by every package: cases, runbooks and their chunks."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DocKind = Literal["case", "runbook"]


class CaseStatus(StrEnum):
    """Lifecycle of a support case."""

    new = "new"
    open = "open"
    pending = "pending"
    resolved = "resolved"
    closed = "closed"


class Priority(StrEnum):
    """Normalised priority levels (P1 is most urgent)."""

    p1 = "P1"
    p2 = "P2"
    p3 = "P3"
    p4 = "P4"


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Case(BaseModel):
    """A support ticket: new (to triage) or past (resolved, to learn from)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    title: str = ""
    body: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    status: str = CaseStatus.open.value
    queue: str | None = None
    priority: str | None = None
    product: str | None = None
    component: str | None = None
    customer: str | None = None
    account: str | None = None
    tags: list[str] = Field(default_factory=list)
    error_signatures: list[str] = Field(default_factory=list)
    # Filled for past cases once they are resolved.
    resolution: str | None = None
    root_cause: str | None = None
    linked_runbooks: list[str] = Field(default_factory=list)
    source: str = "casebook"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _tz(cls, value: datetime) -> datetime:
        return _aware(value)

    @property
    def text(self) -> str:
        """Title and body as one text, the unit that is searched and embedded."""
        return f"{self.title}\n\n{self.body}".strip()

    def content_hash(self) -> str:
        """Hash of everything that affects how the case is indexed."""
        return content_hash(self.model_dump(mode="json", exclude={"metadata"}))


class Runbook(BaseModel):
    """A knowledge-base article: a runbook, troubleshooting guide or FAQ."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=300)
    title: str = ""
    source: str = ""
    body: str = ""
    tags: list[str] = Field(default_factory=list)
    product: str | None = None
    updated_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """Hash of everything that affects how the runbook is indexed."""
        return content_hash(self.model_dump(mode="json", exclude={"metadata", "updated_at"}))


class Chunk(BaseModel):
    """A searchable piece of a document; runbook chunks keep their heading path."""

    id: str
    doc_id: str
    kind: DocKind
    ordinal: int = 0
    heading_path: list[str] = Field(default_factory=list)
    text: str
    token_count: int = 0

    @property
    def heading(self) -> str:
        """Heading path joined for display, e.g. "etcd > Diagnosis > Check member health"."""
        return " > ".join(self.heading_path)


def content_hash(payload: Any) -> str:
    """Stable sha256 of a JSON-serialisable payload."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
