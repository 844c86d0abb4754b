"""The UI's route class and page guards: sessions, role checks, CSRF, HTML error pages.

Every UI route runs through `UiRoute`, which loads the signed session cookie before the
endpoint, turns auth errors into a redirect to the login page (401) or a page naming the
role needed (403), writes the cookie back when the session changed, and adds the security
headers. The JSON API keeps its problem+json errors; nothing here touches them.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.auth import ROLE_SCOPES, allowed
from api.problems import status_for
from api.ui.rendering import render
from api.ui.session import COOKIE_NAME, SESSION_TTL_S, SessionCodec, UiSession, load_secret
from core.errors import CasebookError, Forbidden, NotFound, RateLimited, Unauthorized
from service.container import Container
from storage.records import ApiKeyRecord

LOGIN_PATH = "/ui/login"
SECURITY_HEADERS = {
    # No inline script or style anywhere in the UI, so the policy can be strict.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages show case text; keep them out of shared and back-button caches.
    "Cache-Control": "no-store",
}
_codec_lock = threading.Lock()
log = logging.getLogger(__name__)


@dataclass
class UiUser:
    """The signed-in API key behind a UI request."""

    key: ApiKeyRecord
    session: UiSession

    @property
    def role(self) -> str:
        """The key's role."""
        return self.key.role

    def can(self, scope: str) -> bool:
        """True when the key's role carries `scope`."""
        return allowed(self.key.role, scope)


class SessionState:
    """The session of one request and whether the cookie must be rewritten."""

    def __init__(self, session: UiSession, *, dirty: bool) -> None:
        self.session = session
        self.dirty = dirty

    def replace(self, session: UiSession) -> None:
        """Swap in a new session (login, logout); the cookie is rewritten."""
        self.session = session
        self.dirty = True


def container_of(request: Request) -> Container:
    """The process's container."""
    container: Container = request.app.state.container
    return container


def _codec(request: Request) -> SessionCodec:
    state = request.app.state
    codec: SessionCodec | None = getattr(state, "ui_session_codec", None)
    if codec is None:
        with _codec_lock:
            codec = getattr(state, "ui_session_codec", None)
            if codec is None:
                path = container_of(request).settings.data_dir / "session.key"
                codec = SessionCodec(load_secret(path))
                state.ui_session_codec = codec
    return codec


def session_state(request: Request) -> SessionState:
    """The request's session state (loaded by UiRoute)."""
    state: SessionState = request.state.ui
    return state


def roles_with(scope: str) -> list[str]:
    """Roles that carry a scope, for the 403 page."""
    return [role for role in ROLE_SCOPES if allowed(role, scope)]


def safe_next(target: str | None) -> str | None:
    """A post-login target only when it is a UI path on this site (no open redirect)."""
    if not target or not target.startswith("/ui") or target.startswith("//") or "\\" in target:
        return None
    return target


def _to_login(request: Request) -> RedirectResponse:
    url = LOGIN_PATH
    if request.method == "GET" and request.url.path != LOGIN_PATH:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url += f"?next={quote(target, safe='')}"
    return RedirectResponse(url, status_code=303)


def _error_page(request: Request, status: int, title: str, message: str, **extra: Any) -> Response:
    return render(
        request, "error.html", {"title": title, "message": message, **extra}, status=status
    )


def _forbidden(request: Request, exc: Forbidden) -> Response:
    scope = exc.details.get("scope")
    if isinstance(scope, str):
        roles = roles_with(scope)
        message = f"This page needs the role {' or '.join(roles)}."
        return _error_page(request, 403, "Not allowed", message, roles=roles)
    return _error_page(request, 403, "Not allowed", exc.message)


class UiRoute(APIRoute):
    """A UI route: session cookie in and out, HTML errors, security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler (dependencies included) with the UI's session and errors."""
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            codec = _codec(request)
            loaded = codec.loads(request.cookies.get(COOKIE_NAME))
            request.state.ui = SessionState(loaded or UiSession.fresh(), dirty=loaded is None)
            request.state.ui_user = None
            try:
                response = await inner(request)
            except Unauthorized:
                response = _to_login(request)
            except Forbidden as exc:
                response = _forbidden(request, exc)
            except NotFound as exc:
                response = _error_page(request, 404, "Not found", exc.message)
            except RateLimited as exc:
                response = _error_page(request, 429, "Too many requests", exc.message)
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            except RequestValidationError:
                response = _error_page(
                    request, 422, "Invalid request", "Some of the values sent are not valid."
                )
            except CasebookError as exc:
                status = status_for(exc)
                message = exc.message
                if status >= 500:  # server-side messages can name hosts or paths
                    log.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc)
                    message = "The service could not complete the request; try again later."
                response = _error_page(request, status, "Something went wrong", message)
            state = session_state(request)
            if state.dirty:
                response.set_cookie(
                    COOKIE_NAME,
                    codec.dumps(state.session),
                    max_age=SESSION_TTL_S,
                    path="/ui",
                    httponly=True,
                    samesite="lax",
                    secure=request.url.scheme == "https",
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


def find_key(request: Request, key_id: str) -> ApiKeyRecord | None:
    """The active key with this id, or None (unknown or revoked)."""
    return container_of(request).api_keys.active(key_id)


def signed_in(request: Request) -> UiUser:
    """The signed-in key (401 -> login page), counted against its rate limit."""
    state = session_state(request)
    key_id = state.session.key_id
    if key_id is None:
        raise Unauthorized("sign in with an API key")
    key = find_key(request, key_id)
    if key is None:  # revoked since login: end the session
        state.replace(UiSession.fresh())
        raise Unauthorized("the API key of this session is no longer valid")
    request.app.state.rate_limiter.hit(key.id)
    user = UiUser(key=key, session=state.session)
    request.state.ui_user = user
    return user


def page(scope: str) -> Callable[[Request], UiUser]:
    """A dependency: signed in, and the key's role carries `scope` (else the 403 page)."""

    def check(request: Request) -> UiUser:
        user = signed_in(request)
        if not user.can(scope):
            raise Forbidden(f"role {user.role!r} may not do this ({scope})", scope=scope)
        return user

    check.__name__ = f"ui_page_{scope.replace(':', '_')}"
    return check


async def csrf_ok(request: Request) -> None:
    """A dependency for every POST: the form's token must equal the session's."""
    form = await request.form()
    sent = form.get("csrf")
    expected = session_state(request).session.csrf
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The form has expired or did not come from this site; reload and retry.")
