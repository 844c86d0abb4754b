"""API-key authentication, role checks and per-key rate limits, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from core.errors import Forbidden, Unauthorized
from storage.records import ApiKeyRecord

# What each role may do. Admin may do everything; the others get what their job needs.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "engineer": frozenset(
        {"cases:read", "cases:write", "drafts:review", "search", "jobs:read", "runbooks:read"}
    ),
    "kb_author": frozenset(
        {"cases:read", "search", "runbooks:read", "runbooks:write", "ingest", "jobs:read"}
    ),
    "integration": frozenset({"cases:read", "cases:create"}),
}
# cases:write implies cases:create.
IMPLIED = {"cases:create": "cases:write"}


def allowed(role: str, scope: str) -> bool:
    """True when a role carries a scope."""
    scopes = ROLE_SCOPES.get(role, frozenset())
    return "*" in scopes or scope in scopes or IMPLIED.get(scope, "") in scopes


def presented_key(request: Request) -> str | None:
    """The API key from `Authorization: Bearer ...` or `X-API-Key`."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request) -> ApiKeyRecord:
    """The calling key; 401 without a valid one, 429 over its rate limit."""
    app_state = request.app.state
    secret = presented_key(request)
    if not secret:
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    key = app_state.container.api_keys.authenticate(secret)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    request.state.api_key_id = key.id
    request.scope.setdefault("state", {})["api_key_id"] = key.id
    app_state.rate_limiter.hit(key.id)
    return key


def require(scope: str) -> Callable[[Request], ApiKeyRecord]:
    """A dependency that authenticates and then checks the key's role has `scope`."""

    def check(request: Request) -> ApiKeyRecord:
        key = authenticate(request)
        if not allowed(key.role, scope):
            raise Forbidden(f"role {key.role!r} may not do this ({scope})", scope=scope)
        return key

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check


def actor(key: ApiKeyRecord) -> str:
    """How a key appears in the audit log."""
    return f"key:{key.id}"
