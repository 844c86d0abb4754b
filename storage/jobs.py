"""A durable job queue in the database: leases for crash recovery, fencing for exactly-once.

A worker claims a job by setting a lease (`locked_by`, `lease_until`) and bumping `attempts`.
If the worker dies, the lease runs out and another worker claims the job again. Finishing is
conditional on still holding that claim (same worker, same attempt): a worker whose lease was
taken over cannot complete the job, so its effects, written in the same transaction, are
discarded. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so workers in several
processes never wait on each other; on SQLite the write lock serialises claims.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from core.domain import utcnow
from core.errors import InvalidTransition, NotFound
from storage.cases import set_draft_status
from storage.db import Database
from storage.models import JobRow
from storage.records import JobRecord

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"


def _record(row: JobRow) -> JobRecord:
    return JobRecord.model_validate(row, from_attributes=True)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    case_id: str | None = None,
    max_attempts: int = 5,
    run_after: datetime | None = None,
) -> JobRecord:
    """Add a job inside the caller's transaction (so it commits with what created it)."""
    now = utcnow()
    row = JobRow(
        kind=kind,
        state=QUEUED,
        case_id=case_id,
        payload=payload,
        attempts=0,
        max_attempts=max_attempts,
        run_after=run_after or now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _record(row)


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter for the retry after `attempt` failures."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1))) + base / 2


class JobQueue:
    """Claim, finish, fail and retry jobs; each method is its own transaction."""

    def __init__(self, db: Database, *, lease_s: float = 60.0) -> None:
        self.db = db
        self.lease_s = lease_s

    def claim(self, worker_id: str, *, kinds: list[str] | None = None) -> JobRecord | None:
        """Take the next runnable job (queued and due, or running with an expired lease)."""
        now = utcnow()
        due = or_(
            and_(JobRow.state == QUEUED, JobRow.run_after <= now),
            and_(JobRow.state == RUNNING, JobRow.lease_until < now),
        )
        with self.db.write() as session:
            stmt = select(JobRow).where(due)
            if kinds:
                stmt = stmt.where(JobRow.kind.in_(kinds))
            stmt = stmt.order_by(JobRow.run_after, JobRow.id).limit(1)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            while True:
                row = session.scalars(stmt).first()
                if row is None:
                    return None
                if row.attempts < row.max_attempts:
                    break
                # Its last attempt's worker died holding it: no attempts left, dead-letter it.
                row.last_error = (row.last_error or "worker lost on the last attempt")[:2000]
                self._bury(session, row, now)
            row.state = RUNNING
            row.attempts += 1
            row.locked_by = worker_id
            row.lease_until = now + timedelta(seconds=self.lease_s)
            row.updated_at = now
            session.flush()
            return _record(row)

    @staticmethod
    def _bury(session: Session, row: JobRow, now: datetime) -> None:
        row.state, row.finished_at, row.updated_at = DEAD, now, now
        row.locked_by, row.lease_until = None, None
        if row.case_id:
            # No accepted case is left looking "in progress": its error shows on the case.
            set_draft_status(session, row.case_id, "failed")
        session.flush()

    def heartbeat(self, job: JobRecord) -> bool:
        """Extend the lease of a job this worker holds; False when it lost the claim."""
        now = utcnow()
        with self.db.write() as session:
            result = session.execute(
                update(JobRow)
                .where(self._held(job))
                .values(lease_until=now + timedelta(seconds=self.lease_s), updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _held(job: JobRecord) -> Any:
        return and_(
            JobRow.id == job.id,
            JobRow.state == RUNNING,
            JobRow.locked_by == job.locked_by,
            JobRow.attempts == job.attempts,
        )

    def complete(self, session: Session, job: JobRecord, result: dict[str, Any]) -> bool:
        """Mark the job done inside the caller's transaction; False if the claim was lost.

        The caller must roll back its other writes when this returns False.
        """
        now = utcnow()
        outcome = session.execute(
            update(JobRow)
            .where(self._held(job))
            .values(
                state=DONE,
                result=result,
                finished_at=now,
                updated_at=now,
                lease_until=None,
                last_error=None,
            )
        )
        return bool(outcome.rowcount)  # type: ignore[attr-defined]

    def fail(self, job: JobRecord, error: str, *, retryable: bool = True) -> JobRecord | None:
        """Record a failed attempt: back to the queue with backoff, or dead after the last."""
        now = utcnow()
        with self.db.write() as session:
            row = session.scalars(select(JobRow).where(self._held(job))).first()
            if row is None:
                return None
            row.last_error = error[:2000]
            row.updated_at = now
            row.locked_by, row.lease_until = None, None
            if retryable and row.attempts < row.max_attempts:
                row.state = QUEUED
                row.run_after = now + timedelta(seconds=backoff_seconds(row.attempts))
            else:
                self._bury(session, row, now)
            session.flush()
            return _record(row)

    def retry(self, job_id: int, *, extra_attempts: int = 1) -> JobRecord:
        """Put a dead job back in the queue now, with more attempts."""
        now = utcnow()
        with self.db.write() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise NotFound(f"job {job_id} not found", job_id=job_id)
            if row.state != DEAD:
                raise InvalidTransition(f"job {job_id} is {row.state}, only dead jobs are retried")
            row.state, row.run_after, row.updated_at, row.finished_at = QUEUED, now, now, None
            row.max_attempts = row.attempts + extra_attempts
            session.flush()
            return _record(row)

    def get(self, job_id: int) -> JobRecord:
        """The job with this id; NotFound otherwise."""
        with self.db.read() as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"job {job_id} not found", job_id=job_id)
            return _record(row)

    def jobs_for_case(self, case_id: str) -> list[JobRecord]:
        """Every job about one case, oldest first."""
        with self.db.read() as session:
            stmt = select(JobRow).where(JobRow.case_id == case_id).order_by(JobRow.id)
            return [_record(r) for r in session.scalars(stmt)]

    def list(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        """Jobs, newest first, optionally in one state."""
        with self.db.read() as session:
            stmt = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
            if state:
                stmt = stmt.where(JobRow.state == state)
            return [_record(r) for r in session.scalars(stmt)]

    def depth(self) -> dict[str, int]:
        """Number of jobs per state (queued, running, done, dead)."""
        with self.db.read() as session:
            stmt = select(JobRow.state, func.count()).group_by(JobRow.state)
            counts = {state: int(n) for state, n in session.execute(stmt)}
        return {s: counts.get(s, 0) for s in (QUEUED, RUNNING, DONE, DEAD)}

    def next_due_in(self) -> float | None:
        """Seconds until the next queued job is due (0 when one is due), None when none wait."""
        with self.db.read() as session:
            at = session.scalar(select(func.min(JobRow.run_after)).where(JobRow.state == QUEUED))
        if at is None:
            return None
        return max(0.0, (at - utcnow()).total_seconds())
