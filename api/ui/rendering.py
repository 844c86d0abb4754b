"""Jinja2 templates of the UI and the filters they use (autoescaped; marks are built safely)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.ui import scopes

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# (label, path, scope): the pages in the navigation, shown to roles that may open them.
NAV = (
    ("Review queue", "/ui/review", scopes.REVIEW),
    ("Search", "/ui/search", scopes.SEARCH),
    ("Coverage", "/ui/coverage", scopes.COVERAGE),
    ("Evals", "/ui/evals", scopes.EVALS),
)


def pct(value: float | None, digits: int = 0) -> str:
    """0.734 -> '73%'; None -> '—'."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def when(value: datetime | str | None) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM' (UTC as stored)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"
        except ValueError:
            return value
    return f"{value:%Y-%m-%d %H:%M}"


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """Escape `text` and wrap whole-word occurrences of `terms` in <mark>."""
    words = sorted({t for t in terms if t and len(t) > 1}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["pct"] = pct
templates.env.filters["when"] = when
templates.env.filters["highlight"] = highlight
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A page, with the signed-in user, the CSRF token and the navigation in its context."""
    user = getattr(request.state, "ui_user", None)
    state = getattr(request.state, "ui", None)
    nav = [
        {"label": label, "path": path, "current": request.url.path.startswith(path)}
        for label, path, scope in NAV
        if user is not None and user.can(scope)
    ]
    full = {
        "user": user,
        "csrf": state.session.csrf if state is not None else "",
        "nav": nav,
        **(context or {}),
    }
    response: HTMLResponse = templates.TemplateResponse(request, name, full, status_code=status)
    return response
