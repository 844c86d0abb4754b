"""Hybrid search over past cases and runbooks, with filters and match explanations."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Searcher, SearcherDep
from api.openapi import BODY_PROBLEMS, KEYED_PROBLEMS
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit, SearchQuery

router = APIRouter(
    prefix="/v1/search", tags=["search"], responses={**KEYED_PROBLEMS, **BODY_PROBLEMS}
)


class SearchRequest(BaseModel):
    """A search: free text (a ticket, an error line), filters and how many hits."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=50_000)
    k: int = Field(default=10, ge=1, le=100)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


def _search(
    searcher: SearcherDep, body: SearchRequest, kind: Literal["case", "runbook"]
) -> list[SearchHit]:
    query = SearchQuery(text=body.query, kind=kind, k=body.k, filters=body.filters, mode=body.mode)
    return searcher.search(query)


@router.post("/cases", response_model=list[SearchHit])
def search_cases(body: SearchRequest, key: Searcher, searcher: SearcherDep) -> list[SearchHit]:
    """Past cases matching the query, best first."""
    return _search(searcher, body, "case")


@router.post("/runbooks", response_model=list[SearchHit])
def search_runbooks(body: SearchRequest, key: Searcher, searcher: SearcherDep) -> list[SearchHit]:
    """Runbook sections matching the query, best first."""
    return _search(searcher, body, "runbook")
