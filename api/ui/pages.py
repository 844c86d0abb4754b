"""Every UI page under /ui, as one router for the app, and the folder of its static files."""

from __future__ import annotations

from fastapi import APIRouter

from api.ui import coverage, eval_runs, login, review, search
from api.ui.rendering import STATIC_DIR

__all__ = ["STATIC_DIR", "router"]

router = APIRouter(include_in_schema=False)
for module in (login, review, search, coverage, eval_runs):
    router.include_router(module.router)
