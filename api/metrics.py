"""Prometheus metrics on a registry owned by one `Metrics` object (no global registry).

Several apps in one process (tests, workers) each get their own series and never clash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_context import route_template

logger = logging.getLogger("casebook.metrics")

# Requests that match no route are labelled alike: raw paths would make cardinality unbounded.
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Triage with an LLM takes seconds to minutes; retrieval-only takes milliseconds.
_TRIAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

QueueDepthSource = Callable[[], dict[str, int]]


class _QueueDepthCollector(Collector):
    """Reads the job queue depth from the app's callback at scrape time."""

    def __init__(self) -> None:
        self.source: QueueDepthSource | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without samples keeps registration from calling the source early.
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        if self.source is not None:
            try:
                depths = self.source()
            except Exception:
                # A scrape must not fail because the queue is unreachable; the gap shows it.
                logger.warning("job queue depth source failed", exc_info=True)
                depths = {}
            for state, depth in sorted(depths.items()):
                family.add_metric([state], float(depth))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "casebook_job_queue_depth", "Jobs in the queue by state", labels=["state"]
        )


class Metrics:
    """Casebook's Prometheus series and the methods that record them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "casebook_request_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.triage_seconds = Histogram(
            "casebook_triage_seconds",
            "Triage draft latency by mode",
            ["mode"],
            buckets=_TRIAGE_BUCKETS,
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "casebook_llm_tokens",
            "LLM tokens by model and direction (input, output)",
            ["model", "direction"],
            registry=self.registry,
        )
        self.llm_cost_usd = Counter(
            "casebook_llm_cost_usd",
            "Estimated LLM cost in US dollars by model",
            ["model"],
            registry=self.registry,
        )
        self.errors = Counter(
            "casebook_errors", "Problem responses by error kind", ["kind"], registry=self.registry
        )
        self.jobs = Counter(
            "casebook_jobs",
            "Finished background jobs by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self._queue_depth = _QueueDepthCollector()
        self.registry.register(self._queue_depth)

    def set_queue_depth_source(self, fn: QueueDepthSource | None) -> None:
        """Set the callback that returns {state: depth}, read at every scrape."""
        self._queue_depth.source = fn

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one HTTP request's latency."""
        method = method if method in _METHODS else "OTHER"
        self.request_seconds.labels(method, route, str(status)).observe(seconds)

    def observe_triage(self, mode: str, seconds: float) -> None:
        """Record one triage draft's latency (mode: llm, retrieval_only, ...)."""
        self.triage_seconds.labels(mode).observe(seconds)

    def record_llm_usage(
        self, model: str, input_tokens: int, output_tokens: int, cost_usd: float | None = None
    ) -> None:
        """Add one LLM call's token counts and, when known, its cost."""
        if input_tokens > 0:
            self.llm_tokens.labels(model, "input").inc(input_tokens)
        if output_tokens > 0:
            self.llm_tokens.labels(model, "output").inc(output_tokens)
        if cost_usd is not None and cost_usd > 0:
            self.llm_cost_usd.labels(model).inc(cost_usd)

    def record_error(self, kind: str) -> None:
        """Count one error response by kind (the problem code)."""
        self.errors.labels(kind).inc()

    def record_job(self, kind: str, outcome: str) -> None:
        """Count one finished job (outcome: succeeded, failed, retried, ...)."""
        self.jobs.labels(kind, outcome).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, for a /metrics endpoint."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware recording request latency by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry_root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        finished: float | None = None
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Stop at the last body byte: background tasks run later in the same call.
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            end = finished if finished is not None else time.perf_counter()
            route = route_template(scope, entry_root_path) or UNMATCHED_ROUTE
            self.metrics.observe_request(str(scope.get("method", "")), route, status, end - started)
