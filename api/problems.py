"""RFC 9457 problem+json responses and the exception handlers that produce them.

`PROBLEM_STATUS` is the one table from error class to HTTP status; the most specific class in
an exception's MRO wins, so extending it for a new error is one line.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.request_context import REQUEST_ID_HEADER, request_id_var, request_path_var
from core.errors import (
    AuthError,
    CasebookError,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidTransition,
    MappingError,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RecordError,
    SignatureInvalid,
    StorageError,
    StoreError,
    Unauthorized,
    ValidationFailed,
)

if TYPE_CHECKING:
    from api.metrics import Metrics

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://casebook.dev/problems/"
# Sent with every 401 for a missing or bad API key (RFC 9110 requires a challenge).
WWW_AUTHENTICATE = 'Bearer realm="casebook"'

PROBLEM_STATUS: dict[type[CasebookError], int] = {
    ValidationFailed: 422,
    RecordError: 422,
    MappingError: 422,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    AuthError: 401,
    Unauthorized: 401,
    SignatureInvalid: 401,
    Forbidden: 403,
    RateLimited: 429,
    PayloadTooLarge: 413,
    StorageError: 503,
    StoreError: 503,
    NotConfigured: 503,
    ConfigError: 500,
    CasebookError: 500,
}

# Codes for plain HTTP errors (unknown route, wrong method, ...), shared with Casebook's codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}

logger = logging.getLogger("casebook.api")


def status_for(exc: CasebookError) -> int:
    """The HTTP status of a Casebook error: its most specific class in PROBLEM_STATUS."""
    for cls in type(exc).__mro__:
        if cls in PROBLEM_STATUS:
            return PROBLEM_STATUS[cls]
    return 500


def problem_type(code: str | None) -> str:
    """The problem type URI of a code ("about:blank" without one)."""
    return f"{PROBLEM_BASE}{code}" if code else "about:blank"


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """A problem+json response; instance and request_id default to the current request's."""
    body: dict[str, Any] = {
        "type": type_ or problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance if instance is not None else request_path_var.get(),
        "code": code,
        "request_id": request_id if request_id is not None else request_id_var.get(),
    }
    body = {k: v for k, v in body.items() if v is not None}
    if errors is not None:
        body["errors"] = [_error_item(e) for e in errors]
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def _error_item(error: Mapping[str, Any]) -> dict[str, Any]:
    # Only loc, msg and type: pydantic's "input" and "ctx" may echo what the client sent (PII).
    loc = error.get("loc", ())
    return {
        "loc": list(loc) if isinstance(loc, list | tuple) else [str(loc)],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _is_unparseable(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, json.JSONDecodeError | UnicodeDecodeError)


def casebook_error_response(exc: CasebookError, request: Request) -> JSONResponse:
    """The problem response for a Casebook error (also usable outside the handlers)."""
    status = status_for(exc)
    if status == 422 and _is_unparseable(exc):
        status = 400  # the body could not be parsed at all, so it is a bad request
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    detail: str | None = exc.message
    if status >= 500:
        # Server-side messages can name hosts, paths or SQL; the log keeps them, the client
        # gets the request id to quote.
        logger.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc)
        detail = "The service could not complete the request; quote the request id."
    errors: list[Mapping[str, Any]] | None = None
    raw_errors = exc.details.get("errors")
    if isinstance(raw_errors, list):
        errors = [e for e in raw_errors if isinstance(e, Mapping)]
    elif isinstance(exc, RecordError) and exc.location:
        errors = [{"loc": [exc.location], "msg": exc.message, "type": exc.code}]
    return problem_response(
        status,
        _title(exc.code),
        detail,
        code=exc.code,
        errors=errors,
        headers=headers,
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI, metrics: Metrics | None = None) -> None:
    """Register problem+json handlers for Casebook, validation, HTTP, JSON and unexpected errors."""

    def count(kind: str) -> None:
        if metrics is not None:
            metrics.record_error(kind)

    async def on_casebook_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CasebookError)
        count(exc.code)
        return casebook_error_response(exc, request)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        if errors and all(e.get("type") == "json_invalid" for e in errors):
            count("invalid_json")
            return problem_response(
                400,
                "Invalid JSON",
                "The request body is not valid JSON.",
                code="invalid_json",
                errors=errors,
                instance=request.url.path,
            )
        count("validation_failed")
        return problem_response(
            422,
            "Validation failed",
            "The request does not match the expected schema.",
            code="validation_failed",
            errors=errors,
            instance=request.url.path,
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        phrase = _phrase(status)
        code = _HTTP_CODES.get(status, f"http_{status}")
        count(code)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        return problem_response(
            status,
            phrase,
            detail,
            type_="about:blank",  # RFC 9457: plain HTTP semantics, title is the status phrase
            code=code,
            headers=exc.headers,
            instance=request.url.path,
        )

    async def on_json_error(request: Request, exc: Exception) -> JSONResponse:
        count("invalid_json")
        return problem_response(
            400,
            "Invalid JSON",
            "The request body is not valid JSON.",
            code="invalid_json",
            instance=request.url.path,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette runs this outside the user middleware, after the request context was reset.
        request_id = getattr(request.state, "request_id", None) or request_id_var.get()
        token = request_id_var.set(request_id)
        try:
            logger.error(
                "unhandled %s",
                type(exc).__name__,
                exc_info=exc,
                extra={"fields": {"method": request.method, "path": request.url.path}},
            )
        finally:
            request_id_var.reset(token)
        count("internal_error")
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        return problem_response(
            500,
            "Internal error",
            "An unexpected error occurred; quote the request id when reporting it.",
            code="internal_error",
            headers=headers,
            instance=request.url.path,
            request_id=request_id,
        )

    app.add_exception_handler(CasebookError, on_casebook_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(json.JSONDecodeError, on_json_error)
    app.add_exception_handler(Exception, on_unexpected)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
