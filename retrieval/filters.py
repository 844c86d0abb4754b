"""Metadata filters shared by the vector store, the lexical index and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SearchFilters(BaseModel):
    """Restricts a search; every field set must match (tags: all of them)."""

    model_config = ConfigDict(extra="forbid")

    queue: list[str] | None = None
    product: list[str] | None = None
    status: list[str] | None = None
    tags: list[str] | None = Field(default=None, description="documents must carry all of these")
    created_after: datetime | None = None
    created_before: datetime | None = None

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(v in (None, []) for v in self.model_dump().values())

    def matches(self, meta: dict[str, Any]) -> bool:
        """Evaluate the filters against stored metadata (the reference semantics)."""
        for key in ("queue", "product", "status"):
            allowed = getattr(self, key)
            if allowed and meta.get(key) not in allowed:
                return False
        if self.tags and not all(meta.get(tag_key(t)) is True for t in self.tags):
            return False
        created = meta.get("created_at")
        if self.created_after is not None and (
            created is None or created <= epoch(self.created_after)
        ):
            return False
        return not (
            self.created_before is not None
            and (created is None or created >= epoch(self.created_before))
        )


def epoch(value: datetime) -> int:
    """Seconds since the epoch, the form dates take in stored metadata."""
    return int(value.timestamp())


def tag_key(tag: str) -> str:
    """Metadata key flagging a tag: tags are stored as boolean keys, which every backend filters."""
    return f"tag:{tag}"
