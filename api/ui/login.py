"""Sign in with an API key, sign out, and the landing redirect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.ui import scopes
from api.ui.rendering import render
from api.ui.routing import (
    LOGIN_PATH,
    UiRoute,
    UiUser,
    container_of,
    csrf_ok,
    find_key,
    safe_next,
    session_state,
    signed_in,
)
from api.ui.session import UiSession

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)


def home_for(user: UiUser) -> str:
    """Where a role lands after signing in: its main task."""
    if user.can(scopes.REVIEW):
        return "/ui/review"
    if user.can(scopes.COVERAGE):
        return "/ui/coverage"
    return "/ui/search"


@router.get("")
@router.get("/")
def landing(user: Annotated[UiUser, Depends(signed_in)]) -> RedirectResponse:
    """The role's home page (the login page when not signed in)."""
    return RedirectResponse(home_for(user), status_code=303)


@router.get("/login")
def login_page(
    request: Request, next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    """The sign-in form."""
    key_id = session_state(request).session.key_id
    if key_id is not None and find_key(request, key_id) is not None:
        return RedirectResponse(safe_next(next_) or "/ui/", status_code=303)
    return render(request, "login.html", {"next": safe_next(next_) or ""})


@router.post("/login", dependencies=[Depends(csrf_ok)])
def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=500)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the pasted key; on success start a session holding its id (never the secret)."""
    key = container_of(request).api_keys.authenticate(api_key.strip())
    if key is None:
        context = {"next": safe_next(next_) or "", "error": "Unknown or revoked API key."}
        return render(request, "login.html", context, status=401)
    session_state(request).replace(UiSession.fresh(key.id))
    user = UiUser(key=key, session=session_state(request).session)
    return RedirectResponse(safe_next(next_) or home_for(user), status_code=303)


@router.post("/logout", dependencies=[Depends(csrf_ok)])
def logout(request: Request) -> RedirectResponse:
    """End the session (a fresh anonymous one replaces it)."""
    session_state(request).replace(UiSession.fresh())
    return RedirectResponse(f"{LOGIN_PATH}?signed_out=1", status_code=303)
