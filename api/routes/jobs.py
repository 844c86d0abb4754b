"""Jobs: state, errors of dead-lettered jobs, and retrying them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import Admin, CasesDep, JobReader, JobsDep
from api.openapi import KEYED_PROBLEMS, problems
from api.params import JobId
from storage.records import JobRecord

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=KEYED_PROBLEMS)


@router.get("", response_model=list[JobRecord])
def list_jobs(
    key: JobReader,
    jobs: JobsDep,
    state: Literal["queued", "running", "done", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobRecord]:
    """Jobs newest first; `state=dead` lists the dead letters with their errors."""
    return jobs.list(state=state, limit=limit)


@router.get("/{job_id}", response_model=JobRecord, responses=problems(404))
def get_job(job_id: JobId, key: JobReader, jobs: JobsDep) -> JobRecord:
    """One job: state, attempts, last error, result."""
    return jobs.get(job_id)


@router.post(
    "/{job_id}/retry",
    status_code=202,
    response_model=JobRecord,
    responses=problems(404, 409),  # 409: only dead jobs are retried
)
def retry_job(job_id: JobId, key: Admin, cases: CasesDep) -> JobRecord:
    """Put a dead-lettered job back in the queue."""
    return cases.retry_job(job_id, actor=f"key:{key.id}")
