"""The search page: similar past cases and runbook sections, with filters and explanations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.ui import scopes
from api.ui.queue import STATUSES
from api.ui.rendering import render
from api.ui.routing import UiRoute, UiUser, container_of, page
from core.errors import CasebookError
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit, SearchQuery

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)

Kind = Literal["both", "case", "runbook"]
Mode = Literal["hybrid", "dense", "bm25"]


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    # Date inputs send "" when empty; anything unparseable is ignored like an empty one.
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC) if day else None


@router.get("/search")
def search_page(
    request: Request,
    user: Annotated[UiUser, Depends(page(scopes.SEARCH))],
    q: Annotated[str, Query(max_length=50_000)] = "",
    kind: Kind = "both",
    mode: Mode = "hybrid",
    queue: Annotated[str | None, Query(max_length=100)] = None,
    product: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=10)] = None,
    before: Annotated[str | None, Query(max_length=10)] = None,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """Run a search when there is a query; filters apply to both kinds."""
    filters = SearchFilters(
        queue=[queue] if queue else None,
        product=[product] if product else None,
        status=[status] if status else None,
        created_after=_day(after),
        created_before=_day(before, end=True),
    )
    results: dict[str, list[SearchHit]] = {}
    error = None
    if q.strip():
        searcher = container_of(request).searcher
        kinds: list[Literal["case", "runbook"]] = ["case", "runbook"] if kind == "both" else [kind]
        try:
            for one in kinds:
                query = SearchQuery(text=q, kind=one, k=k, filters=filters, mode=mode)
                results[one] = searcher.search(query)
        except CasebookError as exc:
            error = exc.message
    context = {
        "q": q,
        "kind": kind,
        "mode": mode,
        "k": k,
        "queue": queue or "",
        "product": product or "",
        "status": status or "",
        "after": after if _day(after) else "",
        "before": before if _day(before) else "",
        "queues": list(container_of(request).queues),
        "statuses": STATUSES,
        "results": results,
        "error": error,
    }
    return render(request, "search.html", context)
