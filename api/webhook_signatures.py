"""Verify that a webhook delivery comes from Zendesk, Jira or GitHub (pure, stdlib only).

Each check takes the configured secret and what the request presented and returns None, or
raises SignatureInvalid. Messages name what failed, never the secret or the signature, so
they are safe to log and to return to the caller. Digests are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import string
from datetime import UTC, datetime

from core.errors import ConfigError, SignatureInvalid

GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
ZENDESK_SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
JIRA_SIGNATURE_HEADER = "X-Hub-Signature"
SHARED_SECRET_HEADER = "X-Casebook-Webhook-Secret"

_SHA256_HEX_LENGTH = 64
_SHA256_BYTES = 32
_HEX_DIGITS = frozenset(string.hexdigits)


def verify_github(secret: str, body: bytes, signature_header: str | None) -> None:
    """Check GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""
    key = _key(secret, "GitHub")
    _check_hub_signature(key, body, signature_header, GITHUB_SIGNATURE_HEADER, "GitHub")


def verify_zendesk(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: datetime | None = None,
    tolerance_s: int = 300,
) -> None:
    """Check Zendesk's base64(HMAC-SHA256(timestamp + body)) and that the timestamp is fresh."""
    key = _key(secret, "Zendesk")
    if tolerance_s < 0:
        raise ConfigError("Zendesk webhook timestamp tolerance must not be negative")
    if not signature or not signature.strip():
        raise SignatureInvalid(f"Zendesk webhook: missing {ZENDESK_SIGNATURE_HEADER} header")
    if not timestamp or not timestamp.strip():
        raise SignatureInvalid(f"Zendesk webhook: missing {ZENDESK_TIMESTAMP_HEADER} header")
    sent_at = _parse_timestamp(timestamp)
    try:
        presented = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        presented = b""
    if len(presented) != _SHA256_BYTES:
        raise SignatureInvalid(
            f"Zendesk webhook: malformed {ZENDESK_SIGNATURE_HEADER} header "
            "(expected base64 of an HMAC-SHA256 digest)"
        )
    # Zendesk signs the timestamp header exactly as sent, followed by the raw body.
    expected = hmac.new(key, timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, presented):
        raise SignatureInvalid("Zendesk webhook: signature does not match the body")
    # Freshness comes after the signature, so a forgery gets the same answer at any timestamp.
    age = abs((_aware(now or datetime.now(UTC)) - sent_at).total_seconds())
    if age > tolerance_s:
        raise SignatureInvalid(
            f"Zendesk webhook: timestamp is {int(age)} s away from now "
            f"(allowed {tolerance_s} s); possible replay"
        )


def verify_shared_secret(secret: str, presented: str | None) -> None:
    """Check a shared secret sent as `X-Casebook-Webhook-Secret: <s>` or `Bearer <s>`."""
    key = _key(secret, "Jira")
    token = _bearer(presented)
    if not token:
        raise SignatureInvalid(
            f"webhook: missing shared secret ({SHARED_SECRET_HEADER} or Authorization: Bearer)"
        )
    # Compare digests so the comparison does not even reveal the secret's length.
    if not hmac.compare_digest(_sha256(key), _sha256(token.encode("utf-8"))):
        raise SignatureInvalid("webhook: shared secret does not match")


def verify_jira(
    secret: str, body: bytes, hub_signature: str | None, presented_secret: str | None
) -> None:
    """Accept a Jira delivery signed with `X-Hub-Signature: sha256=<hex>` or carrying the secret.

    Either proof is enough: both need the configured secret, and admin webhooks sign while
    automation rules can only send a header.
    """
    key = _key(secret, "Jira")
    has_signature = bool(hub_signature and hub_signature.strip())
    has_secret = bool(_bearer(presented_secret))
    if not has_signature and not has_secret:
        raise SignatureInvalid(
            f"Jira webhook: missing {JIRA_SIGNATURE_HEADER} header and shared secret "
            f"({SHARED_SECRET_HEADER} or Authorization: Bearer)"
        )
    failures: list[SignatureInvalid] = []
    if has_signature:
        try:
            _check_hub_signature(key, body, hub_signature, JIRA_SIGNATURE_HEADER, "Jira")
            return
        except SignatureInvalid as exc:
            failures.append(exc)
    if has_secret:
        try:
            verify_shared_secret(secret, presented_secret)
            return
        except SignatureInvalid as exc:
            failures.append(exc)
    raise SignatureInvalid("; ".join(f.message for f in failures))


def _key(secret: str, system: str) -> bytes:
    if not secret or not secret.strip():
        raise ConfigError(f"no {system} webhook secret is configured; webhook secrets are required")
    return secret.encode("utf-8")


def _check_hub_signature(
    key: bytes, body: bytes, header_value: str | None, header: str, system: str
) -> None:
    if not header_value or not header_value.strip():
        raise SignatureInvalid(f"{system} webhook: missing {header} header")
    method, sep, digest = header_value.strip().partition("=")
    digest = digest.lower()
    if (
        not sep
        or method.lower() != "sha256"
        or len(digest) != _SHA256_HEX_LENGTH
        or not _HEX_DIGITS.issuperset(digest)
    ):
        raise SignatureInvalid(
            f"{system} webhook: malformed {header} header (expected sha256=<64 hex digits>)"
        )
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest):
        raise SignatureInvalid(f"{system} webhook: signature does not match the body")


def _parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SignatureInvalid(
            f"Zendesk webhook: malformed {ZENDESK_TIMESTAMP_HEADER} header "
            "(expected ISO 8601, e.g. 2026-11-28T10:00:00Z)"
        ) from None
    return _aware(parsed)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _bearer(presented: str | None) -> str:
    if not presented:
        return ""
    value = presented.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return value
