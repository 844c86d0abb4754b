"""The review form: what the engineer changed, turned into the service's ReviewInput."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.models import PriorityLevel, ReviewInput
from triage.draft import TriageDraft

FormAction = Literal["accept", "edit", "reject"]


class ReviewForm(BaseModel):
    """The posted form, as sent by the case page."""

    action: FormAction
    reviewer: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=10_000)
    draft_version: int | None = Field(default=None, ge=1)
    queue: str | None = Field(default=None, max_length=100)
    priority: PriorityLevel | None = None
    hypotheses: list[int] = Field(default_factory=list)
    hypotheses_shown: bool = Field(
        default=False, description="the form carried the checkboxes (unchecked ones are not sent)"
    )
    response: str | None = Field(default=None, max_length=50_000)


def _text(value: str | None) -> str:
    # Browsers post textareas with CRLF line ends.
    return (value or "").replace("\r\n", "\n").strip()


def changes(form: ReviewForm, draft: TriageDraft) -> list[str]:
    """The fields the engineer changed from the draft's proposal."""
    changed = []
    if form.queue and form.queue != draft.routing.queue:
        changed.append("queue")
    if form.priority and form.priority != draft.priority.level:
        changed.append("priority")
    if form.hypotheses_shown and sorted(set(form.hypotheses)) != list(range(len(draft.hypotheses))):
        changed.append("hypotheses")
    if form.response is not None and _text(form.response) != _text(draft.customer_response):
        changed.append("response")
    return changed


def review_input(form: ReviewForm, draft: TriageDraft) -> ReviewInput:
    """The review to store. Accepting after changing fields stores an edit with those changes:
    dropping them silently would lose the engineer's corrections."""
    comment = form.comment.strip() or None
    if form.action == "reject":
        return ReviewInput(
            action="reject",
            reviewer=form.reviewer,
            comment=comment,
            draft_version=form.draft_version,
        )
    changed = changes(form, draft)
    if form.action == "accept" and not changed:
        return ReviewInput(
            action="accept",
            reviewer=form.reviewer,
            comment=comment,
            draft_version=form.draft_version,
        )
    return ReviewInput(
        action="edit",
        reviewer=form.reviewer,
        comment=comment,
        draft_version=form.draft_version,
        queue=form.queue if "queue" in changed else None,
        priority=form.priority if "priority" in changed else None,
        hypotheses=sorted(set(form.hypotheses)) if "hypotheses" in changed else None,
        response=_text(form.response) if "response" in changed else None,
    )
