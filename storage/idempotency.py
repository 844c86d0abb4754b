"""Idempotency keys and webhook delivery ids: a retried request replays, never re-creates."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.domain import utcnow
from core.errors import Conflict
from storage.models import IdempotencyRow, WebhookDeliveryRow


def request_hash(body: bytes) -> str:
    """Fingerprint of a request body, to tell a true retry from a reused key."""
    return hashlib.sha256(body).hexdigest()


def replay(
    session: Session, scope: str, key: str, body_hash: str
) -> tuple[int, dict[str, Any]] | None:
    """The stored (status, body) for this key, None if new; Conflict if reused for another body."""
    row = session.get(IdempotencyRow, (scope, key))
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise Conflict(
            "Idempotency-Key was already used for a different request", header="Idempotency-Key"
        )
    return row.status_code, row.response


def remember(
    session: Session,
    scope: str,
    key: str,
    body_hash: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    """Store the response for this key in the same transaction as the work it describes."""
    session.add(
        IdempotencyRow(
            scope=scope,
            key=key,
            request_hash=body_hash,
            status_code=status_code,
            response=response,
            created_at=utcnow(),
        )
    )
    session.flush()


def expire(session: Session, *, older_than_days: int = 7) -> int:
    """Forget idempotency keys older than the retention window; returns how many."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = session.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def seen_delivery(session: Session, source: str, delivery_id: str) -> WebhookDeliveryRow | None:
    """The earlier delivery with this id from this source, or None."""
    return session.scalars(
        select(WebhookDeliveryRow).where(
            WebhookDeliveryRow.source == source, WebhookDeliveryRow.delivery_id == delivery_id
        )
    ).first()


def record_delivery(session: Session, source: str, delivery_id: str, case_id: str | None) -> None:
    """Remember a delivery (the primary key makes a concurrent duplicate fail to commit)."""
    session.add(
        WebhookDeliveryRow(
            source=source, delivery_id=delivery_id, case_id=case_id, received_at=utcnow()
        )
    )
    session.flush()
