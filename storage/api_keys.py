"""API keys: random secrets shown once, stored as SHA-256 digests, each with one role."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from core.domain import utcnow
from core.errors import NotFound, ValidationFailed
from storage.db import Database
from storage.models import ApiKeyRow
from storage.records import ApiKeyRecord

ROLES = ("admin", "engineer", "kb_author", "integration")
PREFIX = "cbk_"


def digest(secret: str) -> str:
    """The stored form of a key: SHA-256 hex (keys are 256-bit random, so no slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord.model_validate(row, from_attributes=True)


class ApiKeyStore:
    """Create, look up, list and revoke API keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, role: str, name: str) -> tuple[str, ApiKeyRecord]:
        """A new key of this role: (the secret, to show once; its public record)."""
        if role not in ROLES:
            raise ValidationFailed(
                f"unknown role {role!r}; one of {', '.join(ROLES)}", field="role"
            )
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        with self.db.write() as session:
            row = ApiKeyRow(
                id=key_id, name=name, role=role, secret_hash=digest(secret), created_at=utcnow()
            )
            session.add(row)
            session.flush()
            return secret, _record(row)

    def authenticate(self, secret: str) -> ApiKeyRecord | None:
        """The active key with this secret, or None (unknown or revoked)."""
        if not secret.startswith(PREFIX):
            return None
        with self.db.read() as session:
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.secret_hash == digest(secret))
            ).first()
            if row is None or row.revoked_at is not None:
                return None
            return _record(row)

    def active(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id if it exists and is not revoked (sessions hold ids, not secrets)."""
        with self.db.read() as session:
            row = session.get(ApiKeyRow, key_id)
            return _record(row) if row is not None and row.revoked_at is None else None

    def list(self) -> list[ApiKeyRecord]:
        """Every key's public record, oldest first."""
        with self.db.read() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            return [_record(r) for r in rows]

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key; it stops working at once."""
        with self.db.write() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound(f"API key {key_id!r} not found", key_id=key_id)
            row.revoked_at = row.revoked_at or utcnow()
            session.flush()
            return _record(row)
