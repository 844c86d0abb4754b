"""The audit log: who changed what, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import utcnow
from storage.models import AuditRow
from storage.records import AuditRecord


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry; details must hold ids and labels, never case text or secrets."""
    row = AuditRow(at=utcnow(), actor=actor, action=action, target=target, details=details or {})
    session.add(row)


def entries(session: Session, *, target: str | None = None, limit: int = 100) -> list[AuditRecord]:
    """Newest entries first, optionally about one target."""
    stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if target is not None:
        stmt = stmt.where(AuditRow.target == target)
    return [AuditRecord.model_validate(r, from_attributes=True) for r in session.scalars(stmt)]
