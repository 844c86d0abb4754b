"""Request ids, one structured access-log line per request, and JSON logging.

`RequestContextMiddleware` is pure ASGI (no BaseHTTPMiddleware) so streaming responses and
background tasks keep working. It should be the outermost middleware (added last) so every
other component, log line and problem body sees the request id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("casebook_request_id", default=None)
request_path_var: ContextVar[str | None] = ContextVar("casebook_request_path", default=None)

access_logger = logging.getLogger("casebook.access")


def sanitise_request_id(value: str | None) -> str:
    """The client's request id when it is safe to echo and log, else a fresh one."""
    if value is not None and _REQUEST_ID_RE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def route_template(scope: Scope, entry_root_path: str = "") -> str | None:
    """The matched route's path template (e.g. /v1/cases/{case_id}), None if nothing matched.

    Call it after the app ran (the router records the route in the scope); `entry_root_path`
    is the scope's root_path as the middleware first saw it.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    # Inside a Mount the route path is relative; the router grew root_path by the mount prefix.
    root_path = str(scope.get("root_path", ""))
    prefix = root_path[len(entry_root_path) :] if root_path.startswith(entry_root_path) else ""
    return prefix + path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Takes or creates X-Request-ID, exposes it in `request_id_var`, logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sanitise_request_id(_header(scope, REQUEST_ID_HEADER.encode()))
        # Also kept in the request state: exception handlers that run outside this middleware
        # (Starlette's catch-all) no longer see the contextvar.
        scope.setdefault("state", {})["request_id"] = request_id
        id_token = request_id_var.set(request_id)
        path_token = request_path_var.set(scope.get("path"))
        entry_root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        finished: float | None = None
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Latency ends when the response is complete, not after background tasks.
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            end = finished if finished is not None else time.perf_counter()
            _log_access(scope, entry_root_path, status, (end - started) * 1000)
            request_path_var.reset(path_token)
            request_id_var.reset(id_token)


def _log_access(scope: Scope, entry_root_path: str, status: int, duration_ms: float) -> None:
    # Only the method, route template, status, timing, client address and key id: never
    # bodies, query strings or headers, which carry case text, PII and secrets.
    client = scope.get("client")
    state = scope.get("state") or {}
    fields: dict[str, Any] = {
        "method": scope.get("method"),
        "route": route_template(scope, entry_root_path) or scope.get("path"),
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "client_ip": client[0] if client else None,
    }
    api_key_id = state.get("api_key_id") if isinstance(state, dict) else None
    if api_key_id is not None:
        fields["api_key_id"] = str(api_key_id)
    access_logger.info("request", extra={"fields": fields})


# HTTP clients log every request URL at INFO; query strings can carry provider API keys.
_CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore")

_RESERVED = ("ts", "level", "logger", "msg", "request_id", "exc_info", "stack_info")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id and extra `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({str(k): v for k, v in fields.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_json_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Install (once) a JSON handler on the root logger and set its level; returns the handler."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in root.handlers:
        if getattr(handler, "casebook_json", False):
            if stream is not None and isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)
            return handler
    new = logging.StreamHandler(stream if stream is not None else sys.stderr)
    new.setFormatter(JsonFormatter())
    new.casebook_json = True  # type: ignore[attr-defined]
    root.addHandler(new)
    return new
