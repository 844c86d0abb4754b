"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import authenticate
from api.deps import ContainerDep, SettingsDep
from api.openapi import problems
from core.errors import CasebookError, Forbidden

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    """Whether the service can take requests, and what each dependency answered."""

    ready: bool
    checks: dict[str, str] = Field(description='"ok" or the error code of each dependency')


METRICS_TEXT = {"text/plain": {"schema": {"type": "string"}}}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency does not answer"}},
)
def readyz(container: ContainerDep) -> JSONResponse:
    """Ready when the database and the stores answer; 503 with what failed otherwise."""
    checks: dict[str, Any] = {}
    for name, probe in (
        ("database", container.database.ping),
        ("index", lambda: container.index.stats()),
    ):
        try:
            probe()
            checks[name] = "ok"
        except CasebookError as exc:
            checks[name] = exc.code
        except Exception as exc:  # a store client may raise its own errors; report, don't crash
            checks[name] = type(exc).__name__
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text exposition", "content": METRICS_TEXT},
        **problems(401, 403, 429),
    },
)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus metrics; needs an admin key unless metrics are public."""
    if not settings.metrics_public:
        key = authenticate(request)
        if key.role != "admin":
            raise Forbidden("metrics need an admin key")
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
