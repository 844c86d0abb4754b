"""The review queue, the case page (draft beside its evidence) and the review form."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import actor
from api.ui import scopes
from api.ui.evidence import cited_ids, runbook_sections, shared_signatures
from api.ui.queue import (
    DRAFT_STATUSES,
    PRIORITIES,
    STATUSES,
    QueueFilters,
    neighbours,
    queue_items,
)
from api.ui.rendering import render
from api.ui.review_form import ReviewForm, review_input
from api.ui.routing import UiRoute, UiUser, container_of, csrf_ok, page
from core.errors import CasebookError, InvalidTransition, NotFound, ValidationFailed
from retrieval.search import SearchHit
from triage.draft import TriageDraft

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
SIMILAR_SHOWN = 5

Reviewer = Annotated[UiUser, Depends(page(scopes.REVIEW))]
CaseReader = Annotated[UiUser, Depends(page(scopes.READ_CASE))]


def _filters(
    queue: Annotated[str | None, Query(max_length=100)] = None,
    priority: Annotated[str | None, Query(max_length=2)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    draft_status: Annotated[str | None, Query(max_length=20)] = None,
) -> QueueFilters:
    # Empty select values arrive as "" and mean "any".
    return QueueFilters(
        queue=queue or None,
        priority=priority or None,
        status=status or None,
        draft_status="ready" if draft_status is None else draft_status,
    )


Filters = Annotated[QueueFilters, Depends(_filters)]


def _flash(reviewed: str | None, as_: str | None) -> str | None:
    if not reviewed:
        return None
    return f"Review of {reviewed} stored ({as_ or 'saved'})."


def _queue_options(request: Request, *extra: str | None) -> list[str]:
    names = list(container_of(request).queues)
    return names + [q for q in extra if q and q not in names]


@router.get("/review")
def review_queue(
    request: Request,
    user: Reviewer,
    filters: Filters,
    reviewed: Annotated[str | None, Query(max_length=300)] = None,
    as_: Annotated[str | None, Query(alias="as", max_length=20)] = None,
) -> Response:
    """Drafts awaiting review, most urgent and oldest first, with filters."""
    items, more = queue_items(container_of(request).cases, filters)
    context = {
        "items": items,
        "more": more,
        "filters": filters,
        "carry": filters.query(),
        "queues": _queue_options(request, filters.queue),
        "priorities": PRIORITIES,
        "statuses": STATUSES,
        "draft_statuses": DRAFT_STATUSES,
        "flash": _flash(reviewed, as_),
    }
    return render(request, "review_queue.html", context)


def _case_context(
    request: Request, user: UiUser, case_id: str, filters: QueueFilters
) -> dict[str, Any]:
    container = container_of(request)
    cases = container.cases
    view = cases.get(case_id)
    drafts = cases.drafts(case_id)
    latest = drafts.latest
    draft: TriageDraft | None = latest.draft if latest else None
    hits: list[SearchHit] = []
    evidence_error = None
    sections = []
    if user.can(scopes.SEARCH):
        try:
            hits = cases.similar(case_id, k=SIMILAR_SHOWN)
            if draft is not None:
                sections = runbook_sections(container.index, view.case, draft)
        except CasebookError as exc:  # the draft still reviews without its evidence panel
            evidence_error = exc.message
    previous = following = None
    if user.can(scopes.REVIEW):
        previous, following = neighbours(queue_items(cases, filters)[0], case_id)
    return {
        "view": view,
        "case": view.case,
        "draft": draft,
        "version": latest.version if latest else None,
        "mode": latest.mode if latest else None,
        "versions": len(drafts.versions),
        "hits": hits,
        "sections": sections,
        "signatures": shared_signatures(view.case, hits),
        "cited": cited_ids(draft) if draft else set(),
        "evidence_error": evidence_error,
        "can_search": user.can(scopes.SEARCH),
        "can_review": user.can(scopes.REVIEW),
        "queues": _queue_options(request, draft.routing.queue if draft else None),
        "priorities": PRIORITIES,
        "reviews": cases.reviews(case_id),
        "previous": previous,
        "following": following,
        "carry": filters.query(),
    }


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case_id: str,
    user: CaseReader,
    filters: Filters,
    reviewed: Annotated[str | None, Query(max_length=300)] = None,
    as_: Annotated[str | None, Query(alias="as", max_length=20)] = None,
) -> Response:
    """A case with its draft beside the evidence, and the review form."""
    context = _case_context(request, user, case_id, filters)
    context["flash"] = _flash(reviewed, as_)
    return render(request, "case.html", context)


@router.post("/cases/{case_id}/review", dependencies=[Depends(csrf_ok)])
def submit_review(
    request: Request,
    case_id: str,
    user: Reviewer,
    form: Annotated[ReviewForm, Form()],
    filters: Filters,
) -> Response:
    """Store the review through CaseService.review, then go to the next case in the queue."""
    cases = container_of(request).cases
    drafts = cases.drafts(case_id)
    version = form.draft_version or (drafts.latest.version if drafts.latest else None)
    chosen = next((v for v in drafts.versions if v.version == version), None)
    if chosen is None:
        raise NotFound(f"case {case_id!r} has no draft to review")
    _, following = neighbours(queue_items(cases, filters)[0], case_id)
    review = review_input(form, chosen.draft)
    try:
        stored = cases.review(case_id, review, actor=actor(user.key))
    except (ValidationFailed, InvalidTransition) as exc:
        context = _case_context(request, user, case_id, filters)
        context["error"] = exc.message
        return render(request, "case.html", context, status=422)
    done = {"reviewed": case_id, "as": stored.review.action}
    carry = filters.query()
    query = "&".join(q for q in (carry, urlencode(done)) if q)
    target = f"/ui/cases/{quote(following, safe='')}" if following else "/ui/review"
    return RedirectResponse(f"{target}?{query}", status_code=303)
