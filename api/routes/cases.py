"""Cases: create (202 + durable triage job), read, list, drafts, review, resolve, similar."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import actor
from api.deps import CaseCreator, CaseReader, CasesDep, CaseWriter, Reviewer, Searcher
from api.openapi import BODY_PROBLEMS, KEYED_PROBLEMS, problems
from api.params import CaseId, Cursor, QueueFilter, StatusFilter, TimeFilter
from core.domain import Priority
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit
from service.models import (
    CaseView,
    CreatedCase,
    DraftView,
    NewCase,
    ResolveInput,
    ReviewInput,
    ReviewView,
)
from storage.records import ReviewRecord

router = APIRouter(prefix="/v1", tags=["cases"], responses=KEYED_PROBLEMS)
NOT_FOUND = problems(404)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, pattern=r"^[\x21-\x7e]+$"),
]


class CasePage(BaseModel):
    """A page of cases, newest first."""

    items: list[CaseView]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


@router.post(
    "/cases",
    status_code=202,
    response_model=CreatedCase,
    responses={
        200: {"model": CreatedCase, "description": "replayed or already existing"},
        **BODY_PROBLEMS,
        **problems(409),  # an Idempotency-Key reused with another body
    },
)
def create_case(
    new: NewCase, key: CaseCreator, cases: CasesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Create a case and queue its triage; answers 202 before triage runs."""
    body_hash = hashlib.sha256(new.model_dump_json().encode()).hexdigest()
    status, created = cases.create(
        new, actor=actor(key), idempotency_key=idempotency_key, body_hash=body_hash
    )
    headers = {"Location": f"/v1/cases/{created.case_id}"}
    return JSONResponse(created.model_dump(), status_code=status, headers=headers)


@router.get("/cases", response_model=CasePage)
def list_cases(
    key: CaseReader,
    cases: CasesDep,
    status: StatusFilter = None,
    queue: QueueFilter = None,
    priority: Priority | None = None,
    draft_status: StatusFilter = None,
    created_after: TimeFilter = None,
    created_before: TimeFilter = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Cases newest first, filtered, with cursor pagination."""
    items, next_cursor = cases.list_cases(
        status=status,
        queue=queue,
        priority=priority.value if priority else None,
        draft_status=draft_status,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )
    return CasePage(items=items, next_cursor=next_cursor)


@router.get("/cases/{case_id}", response_model=CaseView, responses=NOT_FOUND)
def get_case(case_id: CaseId, key: CaseReader, cases: CasesDep) -> CaseView:
    """One case with its workflow state (and the error of a failed triage)."""
    return cases.get(case_id)


@router.get("/cases/{case_id}/draft", response_model=DraftView, responses=NOT_FOUND)
def get_draft(case_id: CaseId, key: CaseReader, cases: CasesDep) -> DraftView:
    """The latest draft with all its versions and the case's jobs."""
    return cases.drafts(case_id)


@router.post(
    "/cases/{case_id}/draft/regenerate",
    status_code=202,
    response_model=CreatedCase,
    responses=NOT_FOUND,
)
def regenerate_draft(case_id: CaseId, key: CaseWriter, cases: CasesDep) -> CreatedCase:
    """Queue a new triage of the case (a new draft version)."""
    return cases.regenerate(case_id, actor=actor(key))


@router.post(
    "/cases/{case_id}/review",
    status_code=201,
    response_model=ReviewView,
    responses={**BODY_PROBLEMS, **problems(404, 409)},  # 409: no draft to review yet
)
def review_draft(
    case_id: CaseId, review: ReviewInput, key: Reviewer, cases: CasesDep
) -> ReviewView:
    """Accept, edit or reject a draft; the review is kept and its corrections become labels."""
    return cases.review(case_id, review, actor=actor(key))


@router.get("/cases/{case_id}/reviews", response_model=list[ReviewRecord], responses=NOT_FOUND)
def list_reviews(case_id: CaseId, key: CaseReader, cases: CasesDep) -> list[ReviewRecord]:
    """Every review of a case, oldest first."""
    return cases.reviews(case_id)


@router.post(
    "/cases/{case_id}/resolve", response_model=CaseView, responses={**BODY_PROBLEMS, **NOT_FOUND}
)
def resolve_case(case_id: CaseId, body: ResolveInput, key: CaseWriter, cases: CasesDep) -> CaseView:
    """Record the resolution; the case joins the searchable past cases."""
    return cases.resolve(case_id, body, actor=actor(key))


@router.get("/cases/{case_id}/similar", response_model=list[SearchHit], responses=NOT_FOUND)
def similar_cases(
    case_id: CaseId,
    key: Searcher,
    cases: CasesDep,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    queue: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
) -> list[SearchHit]:
    """Past cases most similar to this one, with match explanations."""
    return cases.similar(case_id, k=k, filters=SearchFilters(queue=queue, status=status))
