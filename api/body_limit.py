"""Request body size limit, by Content-Length up front and by counting streamed chunks.

Pure ASGI. A chunked upload has no Content-Length, so the bytes are counted as the app reads
them; once over the limit the app's own reaction is discarded and a 413 problem is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class _BodyTooLarge(HTTPException):
    """Raised into the app from `receive`; an HTTPException so frameworks pass it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes.")


class BodySizeLimitMiddleware:
    """Rejects request bodies over `max_bytes` (or a per-path override) with 413 problem+json.

    `overrides` maps a path prefix to its own limit, e.g. {"/v1/ingest": 50 * 2**20}; the
    longest matching prefix wins. A limit of 0 or less means no limit.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Longest prefix first, so the most specific override wins.
        self.overrides = sorted(
            ((p.rstrip("/") or "/", n) for p, n in (overrides or {}).items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    def limit_for(self, path: str) -> int:
        """The body limit in bytes for a request path."""
        for prefix, limit in self.overrides:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            response = problem_response(
                400,
                "Bad request",
                "The Content-Length header is not a valid length.",
                code="bad_request",
                instance=str(scope.get("path", "")),
            )
            await response(scope, receive, send)
            return
        if declared is not None and declared > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to the aborted read, the 413 below replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # Anything raised after the limit is a consequence of the aborted read.
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _too_large(scope, limit)(scope, receive, send)


def _too_large(scope: Scope, limit: int) -> ASGIApp:
    return problem_response(
        413,
        "Payload too large",
        f"The request body exceeds the limit of {limit} bytes.",
        code="payload_too_large",
        instance=str(scope.get("path", "")),
    )


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when absent, -1 when malformed."""
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None
