"""Cases, draft versions and reviews: functions on a Session, so services compose transactions."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.domain import Case, utcnow
from core.errors import NotFound, ValidationFailed
from storage.models import CaseRow, DraftRow, ReviewRow
from storage.records import CaseRecord, DraftRecord, ReviewRecord


def _case_record(row: CaseRow) -> CaseRecord:
    return CaseRecord(
        case=Case.model_validate(row.data),
        draft_status=row.draft_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
    )


def _draft_record(row: DraftRow) -> DraftRecord:
    return DraftRecord(
        case_id=row.case_id,
        version=row.version,
        job_id=row.job_id,
        mode=row.mode,
        created_at=row.created_at,
        draft=row.data,
    )


def insert_case(session: Session, case: Case, *, draft_status: str) -> CaseRecord:
    """Add a new case; the caller checked it does not exist."""
    now = utcnow()
    row = CaseRow(
        id=case.id,
        source=case.source,
        status=case.status,
        draft_status=draft_status,
        queue=case.queue,
        priority=case.priority,
        product=case.product,
        created_at=case.created_at,
        updated_at=now,
        resolved_at=None,
        data=case.model_dump(mode="json"),
    )
    session.add(row)
    session.flush()
    return _case_record(row)


def find_case(session: Session, case_id: str, *, lock: bool = False) -> CaseRecord | None:
    """The case with this id, or None."""
    row = _row(session, case_id, lock=lock)
    return _case_record(row) if row else None


def get_case(session: Session, case_id: str, *, lock: bool = False) -> CaseRecord:
    """The case with this id; NotFound otherwise."""
    record = find_case(session, case_id, lock=lock)
    if record is None:
        raise NotFound(f"case {case_id!r} not found", case_id=case_id)
    return record


def _row(session: Session, case_id: str, *, lock: bool = False) -> CaseRow | None:
    stmt = select(CaseRow).where(CaseRow.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def update_case(
    session: Session,
    case: Case,
    *,
    draft_status: str | None = None,
    resolved_at: datetime | None = None,
) -> CaseRecord:
    """Write back a changed case (and optionally its draft status)."""
    row = _row(session, case.id)
    if row is None:
        raise NotFound(f"case {case.id!r} not found", case_id=case.id)
    row.data = case.model_dump(mode="json")
    row.status, row.queue, row.priority, row.product = (
        case.status,
        case.queue,
        case.priority,
        case.product,
    )
    if draft_status is not None:
        row.draft_status = draft_status
    if resolved_at is not None:
        row.resolved_at = resolved_at
    row.updated_at = utcnow()
    session.flush()
    return _case_record(row)


def set_draft_status(session: Session, case_id: str, draft_status: str) -> None:
    """Move a case's draft status (queued, running, ready, failed, reviewed)."""
    row = _row(session, case_id)
    if row is not None:
        row.draft_status = draft_status
        row.updated_at = utcnow()


def encode_cursor(created_at: datetime, case_id: str) -> str:
    """An opaque pagination cursor for the position after this case."""
    raw = json.dumps([created_at.isoformat(), case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points after; ValidationFailed when it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, case_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(case_id, str) or "\x00" in case_id:
            raise ValueError("cursor case id")
        at = datetime.fromisoformat(created)
        # Converted here, not when bound: an offset that leaves years 1-9999 is a bad cursor.
        return (at.astimezone(UTC) if at.tzinfo else at), case_id
    except (ValueError, TypeError, OverflowError):
        # A bad parameter, not an unparseable body: 422 like any other invalid query value.
        raise ValidationFailed("invalid cursor", field="cursor") from None


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    queue: str | None = None,
    priority: str | None = None,
    draft_status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CaseRecord], str | None]:
    """Cases newest first with keyset pagination; returns (page, next cursor or None)."""
    stmt = select(CaseRow)
    for column, value in (
        (CaseRow.status, status),
        (CaseRow.queue, queue),
        (CaseRow.priority, priority),
        (CaseRow.draft_status, draft_status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if created_after is not None:
        stmt = stmt.where(CaseRow.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(CaseRow.created_at < created_before)
    if cursor:
        at, case_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                CaseRow.created_at < at,
                and_(CaseRow.created_at == at, CaseRow.id < case_id),
            )
        )
    stmt = stmt.order_by(CaseRow.created_at.desc(), CaseRow.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    page = rows[:limit]
    more = len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
    return [_case_record(r) for r in page], next_cursor


def add_draft(
    session: Session, case_id: str, draft: dict[str, Any], *, mode: str, job_id: int | None
) -> DraftRecord:
    """Store the next draft version of a case."""
    latest = session.scalar(select(func.max(DraftRow.version)).where(DraftRow.case_id == case_id))
    row = DraftRow(
        case_id=case_id,
        version=(latest or 0) + 1,
        job_id=job_id,
        mode=mode,
        created_at=utcnow(),
        data=draft,
    )
    session.add(row)
    session.flush()
    return _draft_record(row)


def drafts_of(session: Session, case_id: str) -> list[DraftRecord]:
    """Every draft version of a case, oldest first."""
    stmt = select(DraftRow).where(DraftRow.case_id == case_id).order_by(DraftRow.version)
    return [_draft_record(r) for r in session.scalars(stmt)]


def latest_draft(session: Session, case_id: str) -> DraftRecord | None:
    """The newest draft version of a case, or None."""
    stmt = (
        select(DraftRow)
        .where(DraftRow.case_id == case_id)
        .order_by(DraftRow.version.desc())
        .limit(1)
    )
    row = session.scalars(stmt).first()
    return _draft_record(row) if row else None


def latest_drafts(session: Session, case_ids: list[str]) -> dict[str, DraftRecord]:
    """The newest draft version of each of these cases, in one query (absent: no draft)."""
    if not case_ids:
        return {}
    newest = (
        select(DraftRow.case_id, func.max(DraftRow.version).label("version"))
        .where(DraftRow.case_id.in_(case_ids))
        .group_by(DraftRow.case_id)
        .subquery()
    )
    stmt = select(DraftRow).join(
        newest,
        and_(DraftRow.case_id == newest.c.case_id, DraftRow.version == newest.c.version),
    )
    return {row.case_id: _draft_record(row) for row in session.scalars(stmt)}


def _review_record(row: ReviewRow) -> ReviewRecord:
    return ReviewRecord(
        id=row.id,
        case_id=row.case_id,
        draft_version=row.draft_version,
        action=row.action,
        reviewer=row.reviewer,
        comment=row.comment,
        corrected_queue=row.corrected_queue,
        corrected_priority=row.corrected_priority,
        data=row.data,
        created_at=row.created_at,
    )


def add_review(
    session: Session,
    case_id: str,
    *,
    draft_version: int,
    action: str,
    reviewer: str,
    comment: str | None,
    corrected_queue: str | None,
    corrected_priority: str | None,
    data: dict[str, Any],
) -> ReviewRecord:
    """Keep one review (reviews are never changed or deleted)."""
    row = ReviewRow(
        case_id=case_id,
        draft_version=draft_version,
        action=action,
        reviewer=reviewer,
        comment=comment,
        corrected_queue=corrected_queue,
        corrected_priority=corrected_priority,
        data=data,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _review_record(row)


def reviews_of(session: Session, case_id: str) -> list[ReviewRecord]:
    """Every review of a case, oldest first."""
    stmt = select(ReviewRow).where(ReviewRow.case_id == case_id).order_by(ReviewRow.id)
    return [_review_record(r) for r in session.scalars(stmt)]


def all_reviews(session: Session, *, since: datetime | None = None) -> list[ReviewRecord]:
    """Every review (optionally since a time), oldest first: labelled examples for training."""
    stmt = select(ReviewRow).order_by(ReviewRow.id)
    if since is not None:
        stmt = stmt.where(ReviewRow.created_at >= since)
    return [_review_record(r) for r in session.scalars(stmt)]
