"""Signed session cookies for the web UI: the key id (never its secret), a CSRF token, expiry.

The cookie is `base64url(json).base64url(hmac-sha256)` under a server secret kept in
DATA_DIR/session.key (created on first use, mode 0600), so no session table is needed; a
revoked key ends its sessions because every request looks the key up again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

COOKIE_NAME = "casebook_session"
SESSION_TTL_S = 8 * 3600  # one working day; after that the key is pasted again


class UiSession(BaseModel):
    """What the cookie holds: the signed-in key id (None before login), CSRF token, expiry."""

    key_id: str | None = None
    csrf: str
    expires: float

    @classmethod
    def fresh(cls, key_id: str | None = None, ttl_s: float = SESSION_TTL_S) -> UiSession:
        """A new session with a new CSRF token (login rotates it, against session fixation)."""
        return cls(key_id=key_id, csrf=secrets.token_urlsafe(24), expires=time.time() + ttl_s)


def load_secret(path: Path) -> bytes:
    """The server's signing secret, created atomically with mode 0600 the first time."""
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race (or left a short file)
        data = path.read_bytes()
        if len(data) >= 32:
            return data
        raise
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and verifies session cookies."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"casebook-ui-session:" + payload, hashlib.sha256).digest()

    def dumps(self, session: UiSession) -> str:
        """The cookie value of a session."""
        payload = json.dumps(session.model_dump(), separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def loads(self, value: str | None, *, now: float | None = None) -> UiSession | None:
        """The session in a cookie, or None when it is missing, forged, malformed or expired."""
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        try:
            payload, signature = _unb64(body), _unb64(mac)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(signature, self._mac(payload)):
            return None
        try:
            session = UiSession.model_validate_json(payload)
        except ValidationError:
            return None
        return session if session.expires > (now if now is not None else time.time()) else None
