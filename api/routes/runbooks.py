"""Runbooks: write, replace, read and delete one; ingest uploaded files as jobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile

from api.auth import actor
from api.deps import Ingester, KnowledgeDep, RunbookReader, RunbookWriter, SettingsDep
from api.openapi import BODY_PROBLEMS, KEYED_PROBLEMS, problems
from api.params import NewRunbookId, RunbookId
from core.domain import Runbook
from core.errors import PayloadTooLarge
from service.models import RunbookInput
from storage.records import JobRecord

router = APIRouter(prefix="/v1", tags=["knowledge base"], responses=KEYED_PROBLEMS)


# 404: an id with a line break matches no route at all.
@router.put("/runbooks/{runbook_id:path}", responses={**BODY_PROBLEMS, **problems(404)})
def put_runbook(
    runbook_id: NewRunbookId, body: RunbookInput, key: RunbookWriter, kb: KnowledgeDep
) -> dict[str, Any]:
    """Create or replace a runbook; Chroma and BM25 are updated before this returns."""
    return kb.put_runbook(runbook_id, body, actor=actor(key))


@router.get("/runbooks/{runbook_id:path}", response_model=Runbook, responses=problems(404))
def get_runbook(runbook_id: RunbookId, key: RunbookReader, kb: KnowledgeDep) -> Runbook:
    """One runbook as indexed."""
    return kb.get_runbook(runbook_id)


@router.delete("/runbooks/{runbook_id:path}", status_code=204, responses=problems(404))
def delete_runbook(runbook_id: RunbookId, key: RunbookWriter, kb: KnowledgeDep) -> Response:
    """Delete a runbook from every index."""
    kb.delete_runbook(runbook_id, actor=actor(key))
    return Response(status_code=204)


@router.post("/ingest/{kind}", status_code=202, response_model=JobRecord, responses=problems(413))
def ingest_upload(
    kind: Literal["runbooks", "cases"],
    key: Ingester,
    kb: KnowledgeDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description=".md/.html/.zip runbooks or .jsonl/.json/.csv")],
    mapping: Annotated[str | None, Form(max_length=100)] = None,
) -> JobRecord:
    """Upload a file to ingest; returns the job (poll GET /v1/jobs/{id} for its report)."""
    content = file.file.read(settings.max_upload_bytes + 1)
    if len(content) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"upload exceeds {settings.max_upload_bytes} bytes")
    return kb.enqueue_upload(
        kind, file.filename or "upload", content, actor=actor(key), mapping=mapping
    )
