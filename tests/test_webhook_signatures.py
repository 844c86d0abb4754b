"""Webhook signature checks for GitHub, Zendesk and Jira: good deliveries pass, forgeries fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.webhook_signatures import (
    verify_github,
    verify_jira,
    verify_shared_secret,
    verify_zendesk,
)
from core.errors import ConfigError, SignatureInvalid

SECRET = "whsec-3f9a1c77e2b04d5c"
BODY = (Path(__file__).parent / "data" / "webhooks" / "github_issue_opened.json").read_bytes()
ZENDESK_BODY = (
    Path(__file__).parent / "data" / "webhooks" / "zendesk_ticket_created.json"
).read_bytes()
STAMP = "2026-11-28T10:00:00Z"
NOW = datetime(2026, 11, 28, 10, 2, 0, tzinfo=UTC)


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _zendesk_sig(secret: str, stamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _assert_safe(exc: SignatureInvalid, *secrets: str) -> None:
    # Error messages end up in logs and responses: never the secret or the signature.
    for value in (SECRET, *secrets):
        assert value not in exc.message and value not in str(exc)


# --- GitHub ------------------------------------------------------------------------------


def test_github_good_signature_passes() -> None:
    verify_github(SECRET, BODY, "sha256=" + _hex(SECRET, BODY))
    verify_github(SECRET, BODY, "  sha256=" + _hex(SECRET, BODY).upper() + " ")
    verify_github(SECRET, b"", "sha256=" + _hex(SECRET, b""))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha256=" + _hex("another-secret", BODY), "does not match"),
        ("sha256=" + _hex(SECRET, BODY + b" "), "does not match"),
        ("sha1=" + hashlib.sha1(BODY).hexdigest(), "malformed"),
        (_hex(SECRET, BODY), "malformed"),
        ("sha256=" + _hex(SECRET, BODY)[:-2], "malformed"),
        ("sha256=" + _hex(SECRET, BODY)[:-1] + "g", "malformed"),
        ("sha256=", "malformed"),
    ],
)
def test_github_bad_signatures_fail(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureInvalid, match=reason) as info:
        verify_github(SECRET, BODY, header)
    _assert_safe(info.value, *([header[7:]] if header and len(header) > 20 else []))


def test_github_tampered_body_fails() -> None:
    signature = "sha256=" + _hex(SECRET, BODY)
    tampered = BODY.replace(b'"number": 412', b'"number": 413')
    assert tampered != BODY
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_github(SECRET, tampered, signature)


def test_any_single_byte_flip_breaks_the_github_signature() -> None:
    # Property: every one-bit change at every position of the body is detected.
    body = b'{"action":"opened","issue":{"number":7,"title":"x\xc3\xa9"}}'
    signature = "sha256=" + _hex(SECRET, body)
    verify_github(SECRET, body, signature)
    flips = 0
    for position in range(len(body)):
        for bit in range(8):
            mutated = bytearray(body)
            mutated[position] ^= 1 << bit
            with pytest.raises(SignatureInvalid):
                verify_github(SECRET, bytes(mutated), signature)
            flips += 1
    assert flips == len(body) * 8
    # Truncation and extension are changes too.
    for changed in (body[:-1], body + b"\n", b" " + body):
        with pytest.raises(SignatureInvalid):
            verify_github(SECRET, changed, signature)


@pytest.mark.parametrize("secret", ["", "   "])
def test_empty_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError, match="secret"):
        verify_github(secret, BODY, "sha256=" + _hex(secret, BODY))
    with pytest.raises(ConfigError):
        verify_zendesk(secret, ZENDESK_BODY, _zendesk_sig(secret, STAMP, ZENDESK_BODY), STAMP)
    with pytest.raises(ConfigError):
        verify_shared_secret(secret, secret)
    with pytest.raises(ConfigError):
        verify_jira(secret, BODY, "sha256=" + _hex(secret, BODY), secret)


# --- Zendesk -----------------------------------------------------------------------------


def test_zendesk_good_signature_passes() -> None:
    signature = _zendesk_sig(SECRET, STAMP, ZENDESK_BODY)
    verify_zendesk(SECRET, ZENDESK_BODY, signature, STAMP, now=NOW)
    # The edges of the window are inside it; a naive `now` is read as UTC.
    verify_zendesk(SECRET, ZENDESK_BODY, signature, STAMP, now=NOW + timedelta(seconds=178))
    verify_zendesk(SECRET, ZENDESK_BODY, signature, STAMP, now=datetime(2026, 11, 28, 9, 55))
    # A body-less request (GET/DELETE deliveries) signs the timestamp alone.
    verify_zendesk(SECRET, b"", _zendesk_sig(SECRET, STAMP, b""), STAMP, now=NOW)


def test_zendesk_signs_the_timestamp_as_sent() -> None:
    # Same instant, other spelling: the signature covers the header text, not the instant.
    other = "2026-11-28T10:00:00+00:00"
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_zendesk(SECRET, ZENDESK_BODY, _zendesk_sig(SECRET, STAMP, ZENDESK_BODY), other)


@pytest.mark.parametrize(
    ("secret", "body", "stamp", "reason"),
    [
        ("another-secret", ZENDESK_BODY, STAMP, "does not match"),
        (SECRET, ZENDESK_BODY + b" ", STAMP, "does not match"),
        (SECRET, ZENDESK_BODY, "2026-11-28T10:00:01Z", "does not match"),
    ],
)
def test_zendesk_wrong_secret_tampered_body_or_timestamp_fail(
    secret: str, body: bytes, stamp: str, reason: str
) -> None:
    signature = _zendesk_sig(secret, STAMP, ZENDESK_BODY)
    with pytest.raises(SignatureInvalid, match=reason) as info:
        verify_zendesk(SECRET, body, signature, stamp, now=NOW)
    _assert_safe(info.value, signature)


@pytest.mark.parametrize(
    ("now", "tolerance"),
    [
        (NOW + timedelta(minutes=10), 300),  # stale: replayed ten minutes later
        (NOW - timedelta(minutes=10), 300),  # from the future
        (NOW, 60),  # two minutes old with a one-minute window
    ],
)
def test_zendesk_stale_or_future_timestamp_fails(now: datetime, tolerance: int) -> None:
    signature = _zendesk_sig(SECRET, STAMP, ZENDESK_BODY)
    with pytest.raises(SignatureInvalid, match="replay"):
        verify_zendesk(SECRET, ZENDESK_BODY, signature, STAMP, now=now, tolerance_s=tolerance)


def test_zendesk_stale_timestamp_fails_with_the_real_clock() -> None:
    stamp = "2020-01-01T00:00:00Z"
    with pytest.raises(SignatureInvalid, match="replay"):
        verify_zendesk(SECRET, ZENDESK_BODY, _zendesk_sig(SECRET, stamp, ZENDESK_BODY), stamp)


@pytest.mark.parametrize(
    ("signature", "stamp", "reason"),
    [
        (None, STAMP, "missing X-Zendesk-Webhook-Signature header"),
        ("", STAMP, "missing X-Zendesk-Webhook-Signature header"),
        ("sig", None, "missing X-Zendesk-Webhook-Signature-Timestamp"),
        ("sig", " ", "missing X-Zendesk-Webhook-Signature-Timestamp"),
        ("sig", "yesterday at noon", "malformed X-Zendesk-Webhook-Signature-Timestamp"),
        ("not base64!", STAMP, "malformed X-Zendesk-Webhook-Signature header"),
        (base64.b64encode(b"short").decode(), STAMP, "malformed"),
        ("sha256=" + _hex(SECRET, ZENDESK_BODY), STAMP, "malformed"),
    ],
)
def test_zendesk_missing_or_malformed_headers_fail(
    signature: str | None, stamp: str | None, reason: str
) -> None:
    with pytest.raises(SignatureInvalid, match=reason):
        verify_zendesk(SECRET, ZENDESK_BODY, signature, stamp, now=NOW)


def test_zendesk_negative_tolerance_is_a_config_error() -> None:
    signature = _zendesk_sig(SECRET, STAMP, ZENDESK_BODY)
    with pytest.raises(ConfigError):
        verify_zendesk(SECRET, ZENDESK_BODY, signature, STAMP, now=NOW, tolerance_s=-1)


# --- Jira / shared secret ----------------------------------------------------------------


@pytest.mark.parametrize("presented", [SECRET, f"Bearer {SECRET}", f"bearer  {SECRET} "])
def test_shared_secret_passes_raw_or_bearer(presented: str) -> None:
    verify_shared_secret(SECRET, presented)


@pytest.mark.parametrize(
    ("presented", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer ", "missing"),
        ("Bearer wrong-secret", "does not match"),
        (SECRET[:-1], "does not match"),
        (SECRET + "x", "does not match"),
        (f"Basic {SECRET}", "does not match"),
    ],
)
def test_shared_secret_wrong_or_missing_fails(presented: str | None, reason: str) -> None:
    with pytest.raises(SignatureInvalid, match=reason) as info:
        verify_shared_secret(SECRET, presented)
    _assert_safe(info.value)


def test_jira_accepts_either_proof() -> None:
    signature = "sha256=" + _hex(SECRET, BODY)
    verify_jira(SECRET, BODY, signature, None)
    verify_jira(SECRET, BODY, None, f"Bearer {SECRET}")
    verify_jira(SECRET, BODY, signature, "wrong")
    verify_jira(SECRET, BODY, "sha256=" + _hex("other", BODY), SECRET)


@pytest.mark.parametrize(
    ("signature", "presented", "reason"),
    [
        (None, None, "missing X-Hub-Signature header and shared secret"),
        ("", " ", "missing X-Hub-Signature header and shared secret"),
        ("sha256=" + _hex("wrong-secret", BODY), None, "signature does not match"),
        ("sha256=" + _hex(SECRET, BODY + b"x"), None, "signature does not match"),
        ("sha256=zz", None, "malformed X-Hub-Signature"),
        (None, "Bearer wrong", "shared secret does not match"),
        ("sha256=" + _hex("wrong-secret", BODY), "wrong", "signature does not match.*secret"),
    ],
)
def test_jira_failures(signature: str | None, presented: str | None, reason: str) -> None:
    with pytest.raises(SignatureInvalid, match=reason) as info:
        verify_jira(SECRET, BODY, signature, presented)
    _assert_safe(info.value, *([signature[7:]] if signature and len(signature) > 20 else []))
