"""The coverage dashboard: rate over time, gap clusters, spikes and runbook utility.

The report comes from kb_coverage.report.build_report, which embeds every case in the window
(a minute or more on a real index), so it is computed in a background thread and cached per
window for a few minutes; until it is ready the page says so and reloads; "Recompute" drops it.
"""

from __future__ import annotations

import logging
import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.ui import scopes
from api.ui.charts import Point, line_chart, sparkline
from api.ui.rendering import pct, render
from api.ui.routing import UiRoute, UiUser, container_of, csrf_ok, page
from core.errors import CasebookError
from kb_coverage.config import CoverageConfig
from kb_coverage.report import CoverageReport, build_report
from retrieval.factory import fusion_weights
from service.container import Container
from service.coverage import usage_events

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
CACHE_TTL_S = 600.0
CACHE_WINDOWS = 8  # reports hold every assessed case; keep a few windows only
Window = tuple[str, str]
_lock = threading.Lock()
log = logging.getLogger(__name__)

Author = Annotated[UiUser, Depends(page(scopes.COVERAGE))]


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC) if day else None


@dataclass
class ReportJob:
    """A coverage report of one window: being computed, done, or failed."""

    started: float
    report: CoverageReport | None = None
    error: str | None = None
    finished: float | None = None

    @property
    def running(self) -> bool:
        """True while the report is being computed."""
        return self.finished is None


class ReportCache:
    """Reports by window, computed in a background thread so no request waits minutes."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, windows: int = CACHE_WINDOWS) -> None:
        self.ttl_s = ttl_s
        self.windows = windows
        self._lock = threading.Lock()
        self._jobs: dict[Window, ReportJob] = {}

    def get(self, window: Window, compute: Callable[[], CoverageReport]) -> ReportJob:
        """The window's report job: a fresh or running one, else a newly started one."""
        with self._lock:
            job = self._jobs.get(window)
            if job is not None and (
                job.finished is None or clock.monotonic() - job.finished < self.ttl_s
            ):
                return job
            job = ReportJob(started=clock.monotonic())
            self._jobs[window] = job
            while len(self._jobs) > self.windows:
                del self._jobs[min(self._jobs, key=lambda w: self._jobs[w].started)]
        threading.Thread(
            target=self._run, args=(job, compute), name="coverage-report", daemon=True
        ).start()
        return job

    def drop(self, window: Window) -> None:
        """Forget a finished report so the next visit recomputes it."""
        with self._lock:
            job = self._jobs.get(window)
            if job is not None and not job.running:
                del self._jobs[window]

    def windows_cached(self) -> list[Window]:
        """The windows with a job, for tests and diagnostics."""
        with self._lock:
            return list(self._jobs)

    @staticmethod
    def _run(job: ReportJob, compute: Callable[[], CoverageReport]) -> None:
        try:
            job.report = compute()
        except CasebookError as exc:
            job.error = exc.message
        except Exception:  # a thread has no caller to raise to: log it, show the page
            log.exception("coverage report failed")
            job.error = "the report could not be computed; the server log has the details"
        finally:
            job.finished = clock.monotonic()


def report_cache(request: Request) -> ReportCache:
    """The app's report cache."""
    state = request.app.state
    with _lock:
        cache: ReportCache | None = getattr(state, "ui_coverage", None)
        if cache is None:
            cache = state.ui_coverage = ReportCache()
    return cache


def _compute(container: Container, window: Window) -> Callable[[], CoverageReport]:
    def run() -> CoverageReport:
        return build_report(
            container.index,
            since=_day(window[0]),
            until=_day(window[1], end=True),
            config=CoverageConfig(threshold=container.settings.coverage_threshold),
            weights=fusion_weights(container.settings),
            events=usage_events(container.database),
        )

    return run


def _chart(report: CoverageReport) -> object:
    points = [
        Point(
            label=w.key,
            value=w.rate,
            bar=float(w.total),
            note=f"{w.covered} of {w.total} cases",
        )
        for w in report.weekly
    ]
    rates = [w.rate for w in report.weekly if w.rate is not None]
    description = (
        f"Weekly share of cases covered by a runbook, {len(points)} weeks; bars show case "
        f"volume. Overall {pct(report.summary.rate)}"
        + (f", from {pct(rates[0])} to {pct(rates[-1])}." if rates else ".")
    )
    return line_chart(
        points, title="Coverage rate by week", description=description, chart_id="coverage-chart"
    )


@router.get("/coverage")
def coverage_page(
    request: Request,
    user: Author,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The dashboard for a window (default: every case)."""
    window = (since if _day(since) else "", until if _day(until) else "")
    job = report_cache(request).get(window, _compute(container_of(request), window))
    report = job.report
    if report is None:
        context = {
            "job": job,
            "elapsed": clock.monotonic() - job.started,
            "since": window[0],
            "until": window[1],
        }
        return render(request, "coverage_pending.html", context)
    sparks = {
        g.id: sparkline([float(w.count) for w in g.weekly], label=f"weekly cases of {g.id}")
        for g in report.gaps
    }
    spike_sparks = {
        f"{s.kind}:{s.key}": sparkline(
            [float(w.count) for w in s.weekly], label=f"weekly volume of {s.label}"
        )
        for s in report.spikes
    }
    context = {
        "report": report,
        "chart": _chart(report) if report.weekly else None,
        "sparks": sparks,
        "spike_sparks": spike_sparks,
        "since": window[0],
        "until": window[1],
        "stale": [r for r in report.runbooks if r.stale],
        "used": [r for r in report.runbooks if not r.stale],
    }
    return render(request, "coverage.html", context)


@router.post("/coverage/refresh", dependencies=[Depends(csrf_ok)])
def refresh(
    request: Request,
    user: Author,
    since: Annotated[str, Form(max_length=10)] = "",
    until: Annotated[str, Form(max_length=10)] = "",
) -> RedirectResponse:
    """Drop the cached report of this window and show it recomputed."""
    window = (since if _day(since) else "", until if _day(until) else "")
    report_cache(request).drop(window)
    query = "&".join(f"{k}={v}" for k, v in (("since", window[0]), ("until", window[1])) if v)
    return RedirectResponse(f"/ui/coverage{'?' + query if query else ''}", status_code=303)
