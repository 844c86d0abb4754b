"""API keys (admin only): create (the secret is shown once), list, revoke."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Admin, KeysDep
from api.openapi import BODY_PROBLEMS, KEYED_PROBLEMS, problems
from api.params import KeyId
from service.models import Input
from storage.records import ApiKeyRecord

router = APIRouter(prefix="/v1/keys", tags=["admin"], responses=KEYED_PROBLEMS)


class NewKey(Input):
    """A key to create."""

    role: Literal["admin", "engineer", "kb_author", "integration"]
    name: str = Field(min_length=1, max_length=200)


class CreatedKey(BaseModel):
    """A new key: `secret` is shown this once and never stored."""

    key: ApiKeyRecord
    secret: str


@router.post("", status_code=201, response_model=CreatedKey, responses=BODY_PROBLEMS)
def create_key(body: NewKey, key: Admin, keys: KeysDep) -> CreatedKey:
    """Create a key with a role."""
    secret, record = keys.create(body.role, body.name)
    return CreatedKey(key=record, secret=secret)


@router.get("", response_model=list[ApiKeyRecord])
def list_keys(key: Admin, keys: KeysDep) -> list[ApiKeyRecord]:
    """Every key's public record."""
    return keys.list()


@router.delete("/{key_id}", response_model=ApiKeyRecord, responses=problems(404))
def revoke_key(key_id: KeyId, key: Admin, keys: KeysDep) -> ApiKeyRecord:
    """Revoke a key; it stops working at once."""
    return keys.revoke(key_id)
