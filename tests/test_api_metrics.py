"""Prometheus metrics: request latency by route template, queue depth at scrape time, counters."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import UNMATCHED_ROUTE, Metrics, MetricsMiddleware
from api.problems import install_problem_handlers
from api.request_context import RequestContextMiddleware
from core.errors import NotFound


def build_app(metrics: Metrics) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/cases/{case_id}")
    def get_case(case_id: str) -> dict[str, str]:
        if case_id == "missing":
            raise NotFound("no such case")
        return {"case_id": case_id}

    @app.get("/v1/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    @app.get("/metrics")
    def scrape() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    install_problem_handlers(app, metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)
    return app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float | None:
    return _samples(text).get((name, tuple(sorted(labels.items()))))


def test_request_latency_is_recorded_by_route_template() -> None:
    metrics = Metrics()
    client = TestClient(build_app(metrics), raise_server_exceptions=False)
    client.get("/v1/cases/LL-1")
    client.get("/v1/cases/LL-2")
    client.get("/v1/cases/missing")
    client.get("/v1/no/such/route/abc123")
    client.get("/v1/crash")
    text = client.get("/metrics").text
    name = "casebook_request_seconds_count"
    assert _value(text, name, method="GET", route="/v1/cases/{case_id}", status="200") == 2
    assert _value(text, name, method="GET", route="/v1/cases/{case_id}", status="404") == 1
    assert _value(text, name, method="GET", route=UNMATCHED_ROUTE, status="404") == 1
    assert _value(text, name, method="GET", route="/v1/crash", status="500") == 1
    # Raw paths never become label values.
    assert "LL-1" not in text and "abc123" not in text
    assert _value(text, "casebook_errors_total", kind="not_found") == 2
    assert _value(text, "casebook_errors_total", kind="internal_error") == 1


def test_unusual_methods_share_one_label() -> None:
    metrics = Metrics()
    metrics.observe_request("BREW", "/coffee", 418, 0.01)
    text = metrics.render()[0].decode()
    assert (
        _value(
            text, "casebook_request_seconds_count", method="OTHER", route="/coffee", status="418"
        )
        == 1
    )


def test_queue_depth_comes_from_the_callback_at_scrape_time() -> None:
    metrics = Metrics()
    depths = {"queued": 3, "running": 1}
    calls: list[int] = []

    def source() -> dict[str, int]:
        calls.append(1)
        return dict(depths)

    metrics.set_queue_depth_source(source)
    assert calls == []  # registering the source does not call it
    text = metrics.render()[0].decode()
    assert _value(text, "casebook_job_queue_depth", state="queued") == 3
    assert _value(text, "casebook_job_queue_depth", state="running") == 1
    depths["queued"] = 7
    assert _value(metrics.render()[0].decode(), "casebook_job_queue_depth", state="queued") == 7
    assert len(calls) == 2


def test_a_failing_queue_depth_source_does_not_break_the_scrape() -> None:
    metrics = Metrics()

    def broken() -> dict[str, int]:
        raise ConnectionError("db down")

    metrics.set_queue_depth_source(broken)
    metrics.record_job("triage", "succeeded")
    text = metrics.render()[0].decode()
    assert _value(text, "casebook_jobs_total", kind="triage", outcome="succeeded") == 1
    assert "casebook_job_queue_depth{" not in text


def test_counters_and_triage_histogram() -> None:
    metrics = Metrics()
    metrics.record_llm_usage(
        "openai/gpt-4o-mini", input_tokens=1200, output_tokens=300, cost_usd=0.0009
    )
    metrics.record_llm_usage("openai/gpt-4o-mini", input_tokens=800, output_tokens=0)
    metrics.observe_triage("llm", 4.2)
    metrics.observe_triage("retrieval_only", 0.08)
    metrics.record_error("rate_limited")
    metrics.record_job("ingest", "failed")
    metrics.record_job("ingest", "failed")
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    model = "openai/gpt-4o-mini"
    assert _value(text, "casebook_llm_tokens_total", model=model, direction="input") == 2000
    assert _value(text, "casebook_llm_tokens_total", model=model, direction="output") == 300
    assert _value(text, "casebook_llm_cost_usd_total", model=model) == pytest.approx(0.0009)
    assert _value(text, "casebook_triage_seconds_count", mode="llm") == 1
    assert _value(text, "casebook_triage_seconds_bucket", mode="llm", le="5.0") == 1
    assert _value(text, "casebook_triage_seconds_bucket", mode="llm", le="2.0") == 0
    assert _value(text, "casebook_errors_total", kind="rate_limited") == 1
    assert _value(text, "casebook_jobs_total", kind="ingest", outcome="failed") == 2


def test_two_apps_in_one_process_keep_separate_registries() -> None:
    first, second = Metrics(), Metrics()
    TestClient(build_app(first)).get("/v1/cases/LL-1")
    text_first = first.render()[0].decode()
    text_second = second.render()[0].decode()
    labels = {"method": "GET", "route": "/v1/cases/{case_id}", "status": "200"}
    assert _value(text_first, "casebook_request_seconds_count", **labels) == 1
    assert _value(text_second, "casebook_request_seconds_count", **labels) is None
