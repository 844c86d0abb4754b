"""The review queue: cases whose drafts await review, filtered on what the draft proposes."""

from __future__ import annotations

from urllib.parse import urlencode

from pydantic import BaseModel, Field

from service.cases import CaseService
from service.models import CaseView
from triage.draft import TriageDraft

DRAFT_STATUSES = ("ready", "reviewed", "rejected", "queued", "running", "failed")
PRIORITIES = ("P1", "P2", "P3", "P4")
STATUSES = ("new", "open", "pending", "resolved", "closed")
SCAN_LIMIT = 1000  # cases looked at per listing; the newest ones when there are more
PAGE_SIZE = 100
_DB_PAGE = 200


class QueueFilters(BaseModel):
    """Filters of the queue; queue and priority are the draft's proposal (else the case's)."""

    queue: str | None = Field(default=None, max_length=100)
    priority: str | None = Field(default=None, max_length=2)
    status: str | None = Field(default=None, max_length=20)
    draft_status: str = Field(default="ready", max_length=20)

    def query(self) -> str:
        """The filters as a query string, to carry them from page to page."""
        values = {k: v for k, v in self.model_dump().items() if v}
        if values.get("draft_status") == "ready":
            del values["draft_status"]
        return urlencode(values)


class QueueItem(BaseModel):
    """A case in the queue with the latest draft's proposal."""

    view: CaseView
    draft: TriageDraft | None = None
    version: int | None = None

    @property
    def case_id(self) -> str:
        """The case id."""
        return self.view.case.id

    @property
    def queue(self) -> str | None:
        """The draft's queue, else the case's."""
        return self.draft.routing.queue if self.draft else self.view.case.queue

    @property
    def priority(self) -> str | None:
        """The draft's priority, else the case's."""
        return self.draft.priority.level if self.draft else self.view.case.priority

    @property
    def confidence(self) -> float | None:
        """The routing confidence of the draft."""
        return self.draft.routing.confidence if self.draft else None


def _rank(item: QueueItem) -> tuple[str, str, str]:
    # Most urgent first, then the case that has waited longest.
    return (item.priority or "P9", item.view.created_at.isoformat(), item.case_id)


def queue_items(
    cases: CaseService, filters: QueueFilters, *, limit: int = PAGE_SIZE
) -> tuple[list[QueueItem], bool]:
    """The queue, most urgent and oldest first, and whether more matched than `limit`."""
    items: list[QueueItem] = []
    cursor: str | None = None
    scanned = 0
    while scanned < SCAN_LIMIT:
        page, cursor = cases.list_cases(
            status=filters.status,
            draft_status=filters.draft_status or None,
            cursor=cursor,
            limit=_DB_PAGE,
        )
        scanned += len(page)
        newest = cases.latest_drafts([view.case.id for view in page])
        for view in page:
            latest = newest.get(view.case.id)
            item = QueueItem(
                view=view,
                draft=latest.draft if latest else None,
                version=latest.version if latest else None,
            )
            if filters.queue and item.queue != filters.queue:
                continue
            if filters.priority and item.priority != filters.priority:
                continue
            items.append(item)
        if cursor is None:
            break
    items.sort(key=_rank)
    return items[:limit], len(items) > limit


def neighbours(items: list[QueueItem], case_id: str) -> tuple[str | None, str | None]:
    """The previous and next case ids around `case_id` in the queue."""
    ids = [i.case_id for i in items]
    if case_id not in ids:
        return None, ids[0] if ids else None
    at = ids.index(case_id)
    return (ids[at - 1] if at > 0 else None), (ids[at + 1] if at + 1 < len(ids) else None)
