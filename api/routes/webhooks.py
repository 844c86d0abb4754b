"""Ticket-created webhooks (Zendesk, Jira, GitHub): signature first, then idempotent intake."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, SecretStr

from api.deps import CasesDep, SettingsDep
from api.openapi import problems
from api.webhook_signatures import verify_github, verify_jira, verify_zendesk
from core.errors import NotConfigured, ValidationFailed
from kb_ingest.webhook_events import WebhookEvent, parse_github, parse_jira, parse_zendesk
from service.models import has_nul

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._:@-]")


class WebhookAck(BaseModel):
    """What a delivery did: created a case, found it already delivered, or was ignored."""

    delivery_id: str
    event: str
    outcome: str
    case_id: str | None = None
    job_id: int | None = None


# 401: bad signature; 503: no secret configured for this source; 422: a payload it cannot map.
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookAck, "description": "an ignored event or a repeated delivery"},
    **problems(400, 401, 413, 422, 503),
}


def _secret(value: SecretStr | None, source: str) -> str:
    if value is None or not value.get_secret_value():
        raise NotConfigured(f"the {source} webhook has no secret configured", source=source)
    return value.get_secret_value()


async def _intake(
    request: Request,
    cases: CasesDep,
    verify: Callable[[bytes], None],
    parse: Callable[[bytes, dict[str, str]], WebhookEvent],
) -> JSONResponse:
    body = await request.body()
    verify(body)
    event = parse(body, dict(request.headers))
    if not event.creates_case or event.case is None:
        ack = WebhookAck(delivery_id=event.delivery_id, event=event.event, outcome="ignored")
        return JSONResponse(ack.model_dump(), status_code=200)
    if has_nul(event.case.model_dump(mode="json")) or has_nul(event.delivery_id):
        # Signed, but unstorable on PostgreSQL: the same 422 as a NUL sent to POST /v1/cases.
        raise ValidationFailed("the payload holds NUL (\\u0000) characters", field="body")
    # URL- and index-safe ids: "github:owner/repo#1" becomes "github:owner:repo:1" ("/" would
    # split the path, "#" starts a URL fragment and separates chunk ids in the index).
    case = event.case.model_copy(update={"id": UNSAFE_ID_CHARS.sub(":", event.case.id)})
    status, created = await run_in_threadpool(
        cases.create,
        case,
        actor=f"webhook:{event.source}",
        delivery=(event.source, event.delivery_id),
    )
    ack = WebhookAck(
        delivery_id=event.delivery_id,
        event=event.event,
        outcome="created" if created.created else "duplicate",
        case_id=created.case_id,
        job_id=created.job_id,
    )
    return JSONResponse(ack.model_dump(), status_code=status)


@router.post("/github", response_model=WebhookAck, status_code=202, responses=WEBHOOK_RESPONSES)
async def github_webhook(request: Request, cases: CasesDep, settings: SettingsDep) -> JSONResponse:
    """GitHub `issues` events (action `opened`), signed with X-Hub-Signature-256."""
    secret = _secret(settings.github_webhook_secret, "github")
    header = request.headers.get("x-hub-signature-256")
    return await _intake(request, cases, lambda b: verify_github(secret, b, header), parse_github)


@router.post("/zendesk", response_model=WebhookAck, status_code=202, responses=WEBHOOK_RESPONSES)
async def zendesk_webhook(request: Request, cases: CasesDep, settings: SettingsDep) -> JSONResponse:
    """Zendesk ticket-created events or trigger bodies, signed with the webhook's secret."""
    secret = _secret(settings.zendesk_webhook_secret, "zendesk")
    signature = request.headers.get("x-zendesk-webhook-signature")
    timestamp = request.headers.get("x-zendesk-webhook-signature-timestamp")
    return await _intake(
        request, cases, lambda b: verify_zendesk(secret, b, signature, timestamp), parse_zendesk
    )


@router.post("/jira", response_model=WebhookAck, status_code=202, responses=WEBHOOK_RESPONSES)
async def jira_webhook(request: Request, cases: CasesDep, settings: SettingsDep) -> JSONResponse:
    """Jira (Service Management) issue-created events, with a shared secret or HMAC signature."""
    secret = _secret(settings.jira_webhook_secret, "jira")
    hub = request.headers.get("x-hub-signature")
    presented = request.headers.get("x-casebook-webhook-secret") or request.headers.get(
        "authorization"
    )
    return await _intake(
        request, cases, lambda b: verify_jira(secret, b, hub, presented), parse_jira
    )
