"""The OpenAPI side of problem+json: the Problem schema and the error responses of each route.

Routers pass `responses=problems(...)` for the statuses they can answer with; `install_openapi`
puts the Problem schema into the spec's components so those responses can refer to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from api.problems import PROBLEM_MEDIA_TYPE

COMPONENTS = "#/components/schemas/"


class ProblemItem(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    loc: list[str | int] = Field(description="path to the input, e.g. ['body', 'title']")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem: every error answer of the API (as application/problem+json)."""

    # RFC 9457 allows extension members, so clients must accept more than these.
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI for the kind of problem (about:blank for plain HTTP)")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = Field(default=None, description="the request path")
    code: str | None = Field(default=None, description="stable machine-readable error code")
    request_id: str | None = Field(default=None, description="quote it when reporting an error")
    errors: list[ProblemItem] | None = Field(default=None, description="each invalid input")


_DESCRIPTIONS: dict[int, str] = {
    400: "The request body is not valid JSON",
    401: "No API key, an unknown or revoked one, or an invalid webhook signature",
    403: "The key's role may not do this",
    404: "No such resource (or no route for the URL)",
    409: "The request conflicts with the resource's state",
    413: "The request body is too large",
    422: "The request is not valid (each invalid input is listed in `errors`)",
    429: "Too many requests for this key; retry after `Retry-After` seconds",
    503: "A store (database, index) or a needed configuration is unavailable",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "the auth scheme", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json answers for these statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"{COMPONENTS}Problem"}}},
        }
        if status in _HEADERS:
            # Documented, not required: a webhook's 401 (bad signature) carries no challenge.
            response["headers"] = _HEADERS[status]
        out[status] = response
    return out


# What every route behind an API key can answer: no/bad key, wrong role, rate limit, bad input,
# store down. Routes add 400/413 (JSON body) and 404/409 (their resource) themselves.
KEYED_PROBLEMS = problems(401, 403, 422, 429, 503)
BODY_PROBLEMS = problems(400, 413)


def problem_schemas() -> dict[str, Any]:
    """The component schemas of Problem and ProblemItem."""
    schema = Problem.model_json_schema(ref_template=COMPONENTS + "{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def install_openapi(app: FastAPI) -> None:
    """Make the app's OpenAPI document carry the Problem schemas its responses refer to."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(problem_schemas())
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
