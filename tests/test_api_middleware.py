"""Request ids, JSON access logs, rate limiting and the body size limit."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.body_limit import BodySizeLimitMiddleware
from api.problems import install_problem_handlers
from api.rate_limit import RateLimiter
from api.request_context import (
    JsonFormatter,
    RequestContextMiddleware,
    configure_json_logging,
    request_id_var,
    sanitise_request_id,
)
from core.errors import RateLimited
from tests.conftest import free_port

EMAIL = "jane.doe@example.com"
SECRET_QUERY = "tok_live_51HxSecret"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Note(BaseModel):
    text: str


def build_app(
    limiter: RateLimiter | None = None,
    max_bytes: int = 0,
    overrides: dict[str, int] | None = None,
) -> tuple[FastAPI, dict[str, object]]:
    app = FastAPI()
    seen: dict[str, object] = {}
    limiter = limiter if limiter is not None else RateLimiter(per_minute=0)

    def authenticate(request: Request) -> None:
        key_id = request.headers.get("x-test-key")
        if key_id:
            request.state.api_key_id = key_id
        limiter.hit(key_id or "anonymous")

    @app.get("/v1/cases/{case_id}", dependencies=[Depends(authenticate)])
    def get_case(case_id: str) -> dict[str, str | None]:
        logging.getLogger("casebook.test").info("loaded", extra={"fields": {"case": case_id}})
        return {"case_id": case_id, "request_id": request_id_var.get()}

    @app.post("/v1/cases/{case_id}/notes", dependencies=[Depends(authenticate)])
    def add_note(case_id: str, note: Note) -> dict[str, int]:
        seen["note"] = note.text
        return {"length": len(note.text)}

    @app.post("/v1/raw")
    async def raw(request: Request) -> dict[str, int]:
        seen["raw_called"] = True
        return {"length": len(await request.body())}

    @app.post("/v1/ingest")
    async def ingest(request: Request) -> dict[str, int]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return {"length": total}

    @app.get("/v1/stream")
    def stream(background: BackgroundTasks) -> StreamingResponse:
        def after() -> None:
            seen["background_request_id"] = request_id_var.get()

        background.add_task(after)
        return StreamingResponse(iter([b"one,", b"two,", b"three"]), media_type="text/plain")

    install_problem_handlers(app)
    if max_bytes:
        app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_bytes, overrides=overrides)
    app.add_middleware(RequestContextMiddleware)
    return app, seen


@pytest.fixture()
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpx2", "httpcore")}
    handler = configure_json_logging("INFO", stream=stream)
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- request ids ------------------------------------------------------------------------------
def test_request_id_is_generated_when_missing() -> None:
    client = TestClient(build_app()[0])
    response = client.get("/v1/cases/LL-1")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert response.json()["request_id"] == request_id
    assert client.get("/v1/cases/LL-1").headers["x-request-id"] != request_id


def test_a_valid_client_request_id_is_propagated() -> None:
    response = TestClient(build_app()[0]).get(
        "/v1/cases/LL-1", headers={"X-Request-ID": "abc.1_2-3"}
    )
    assert response.headers["x-request-id"] == "abc.1_2-3"
    assert response.json()["request_id"] == "abc.1_2-3"


@pytest.mark.parametrize("bad", ["has space", "a" * 65, "semi;colon", "new\\nline", "é"])
def test_an_unsafe_client_request_id_is_replaced(bad: str) -> None:
    assert sanitise_request_id(bad) != bad
    response = TestClient(build_app()[0]).get(
        "/v1/cases/LL-1", headers={b"X-Request-ID": bad.encode("utf-8")}
    )
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


def test_streaming_and_background_tasks_still_work_and_see_the_request_id() -> None:
    app, seen = build_app()
    response = TestClient(app).get("/v1/stream", headers={"X-Request-ID": "stream-1"})
    assert response.text == "one,two,three"
    assert response.headers["x-request-id"] == "stream-1"
    assert seen["background_request_id"] == "stream-1"


# --- JSON logs ----------------------------------------------------------------------------------
def test_access_log_is_one_json_line_with_route_template(log_stream: io.StringIO) -> None:
    client = TestClient(build_app()[0])
    client.get(
        f"/v1/cases/LL-42?q={SECRET_QUERY}", headers={"X-Request-ID": "req-1", "X-Test-Key": "k1"}
    )
    lines = _lines(log_stream)
    access = [line for line in lines if line["logger"] == "casebook.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["msg"] == "request"
    assert entry["level"] == "INFO"
    assert entry["request_id"] == "req-1"
    assert entry["method"] == "GET"
    assert entry["route"] == "/v1/cases/{case_id}"
    assert entry["status"] == 200
    assert entry["client_ip"] == "testclient"
    assert entry["api_key_id"] == "k1"
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert str(entry["ts"]).endswith("+00:00")
    # App log lines carry the request id and their extra fields.
    app_line = next(line for line in lines if line["logger"] == "casebook.test")
    assert app_line["request_id"] == "req-1" and app_line["case"] == "LL-42"
    assert SECRET_QUERY not in log_stream.getvalue()


def test_logs_contain_no_body_query_or_header_text(log_stream: io.StringIO) -> None:
    client = TestClient(build_app()[0])
    response = client.post(
        f"/v1/cases/LL-7/notes?email={EMAIL}",
        json={"text": f"customer {EMAIL} says the webhook fails"},
        headers={"Authorization": "Bearer sk-very-secret", "X-Customer": EMAIL},
    )
    assert response.status_code == 200
    # A validation failure must not leak the body into the logs either.
    client.post("/v1/cases/LL-7/notes", json={"text": [EMAIL]})
    text = log_stream.getvalue()
    assert [line["status"] for line in _lines(log_stream)] == [200, 422]
    assert EMAIL not in text and "sk-very-secret" not in text and "webhook" not in text


def test_unknown_routes_are_logged_with_their_raw_path(log_stream: io.StringIO) -> None:
    TestClient(build_app()[0]).get("/v1/nowhere?x=1")
    (entry,) = _lines(log_stream)
    assert entry["route"] == "/v1/nowhere" and entry["status"] == 404


def test_a_crash_is_logged_as_500_with_its_traceback(log_stream: io.StringIO) -> None:
    app, _ = build_app()

    @app.get("/v1/boom")
    def boom() -> None:
        raise ValueError("kaput")

    TestClient(app, raise_server_exceptions=False).get("/v1/boom", headers={"X-Request-ID": "b-1"})
    lines = _lines(log_stream)
    access = next(line for line in lines if line["logger"] == "casebook.access")
    crash = next(line for line in lines if line["logger"] == "casebook.api")
    assert access["status"] == 500 and access["request_id"] == "b-1"
    assert crash["request_id"] == "b-1" and "ValueError: kaput" in str(crash["exc_info"])


def test_configure_json_logging_is_idempotent(log_stream: io.StringIO) -> None:
    again = configure_json_logging("DEBUG", stream=log_stream)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "casebook_json", False)]
    assert ours == [again]
    assert logging.getLogger().level == logging.DEBUG


def test_json_formatter_keeps_its_own_keys_and_serialises_anything() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    record.fields = {"level": "forged", "path": io, "count": 3}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING" and entry["msg"] == "hello you" and entry["count"] == 3
    assert entry["request_id"] is None and "module 'io'" in entry["path"]


# --- rate limiting ------------------------------------------------------------------------------
def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    limiter.hit("k")
    limiter.hit("k")
    with pytest.raises(RateLimited) as first:
        limiter.hit("k")
    assert first.value.retry_after == pytest.approx(1.0)
    clock.advance(0.25)
    with pytest.raises(RateLimited) as second:
        limiter.hit("k")
    assert second.value.retry_after == pytest.approx(0.75)
    clock.advance(0.75)
    limiter.hit("k")  # one token refilled
    with pytest.raises(RateLimited):
        limiter.hit("k")
    limiter.hit("other")  # keys are independent


def test_retry_after_follows_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=30, clock=clock)  # burst defaults to per_minute
    for _ in range(30):
        limiter.hit("k")
    with pytest.raises(RateLimited) as exc:
        limiter.hit("k")
    assert exc.value.retry_after == pytest.approx(2.0)
    clock.advance(60)
    for _ in range(30):  # refills to the burst, no further
        limiter.hit("k")
    with pytest.raises(RateLimited):
        limiter.hit("k")


@pytest.mark.parametrize("per_minute", [0, -5])
def test_rate_limiter_disabled_when_not_positive(per_minute: int) -> None:
    limiter = RateLimiter(per_minute=per_minute, clock=FakeClock())
    assert not limiter.enabled
    for _ in range(1000):
        limiter.hit("k")
    assert limiter.tracked_keys == 0


def test_idle_buckets_are_evicted_and_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=5, clock=clock, max_keys=100)
    for i in range(50):
        limiter.hit(f"k{i}")
    assert limiter.tracked_keys == 50
    clock.advance(5.0)  # every bucket is full again: forgetting them changes nothing
    limiter.hit("fresh")
    assert limiter.tracked_keys == 1
    for i in range(500):
        limiter.hit(f"burst{i}")
    assert limiter.tracked_keys == 100


def test_rate_limiter_is_thread_safe() -> None:
    limiter = RateLimiter(per_minute=600, burst=100, clock=FakeClock())  # frozen clock
    allowed: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            try:
                limiter.hit("shared")
                allowed.append(1)
            except RateLimited:
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 100


def test_rate_limit_over_http_is_a_429_problem_with_retry_after() -> None:
    clock = FakeClock()
    app, _ = build_app(limiter=RateLimiter(per_minute=20, burst=1, clock=clock))
    client = TestClient(app)
    assert client.get("/v1/cases/LL-1", headers={"X-Test-Key": "k1"}).status_code == 200
    response = client.get("/v1/cases/LL-1", headers={"X-Test-Key": "k1"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["code"] == "rate_limited"
    clock.advance(1.5)
    assert client.get("/v1/cases/LL-1", headers={"X-Test-Key": "k1"}).headers["retry-after"] == "2"
    assert client.get("/v1/cases/LL-1", headers={"X-Test-Key": "k2"}).status_code == 200


# --- body size limit ----------------------------------------------------------------------------
def _chunks(total: int, size: int = 256) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


def test_body_limit_by_content_length_rejects_before_the_route_runs() -> None:
    app, seen = build_app(max_bytes=1000)
    client = TestClient(app)
    response = client.post("/v1/raw", content=b"x" * 1001, headers={"X-Request-ID": "big-1"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "payload_too_large" and body["request_id"] == "big-1"
    assert "raw_called" not in seen
    assert client.post("/v1/raw", content=b"x" * 1000).json() == {"length": 1000}


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/ingest"])
def test_body_limit_counts_chunked_uploads(path: str) -> None:
    app, _ = build_app(max_bytes=1000)
    client = TestClient(app)
    response = client.post(path, content=_chunks(5000), headers={"X-Request-ID": "chunk-1"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"] == "chunk-1"
    assert client.post(path, content=_chunks(900)).json() == {"length": 900}


def test_body_limit_applies_to_parsed_json_bodies() -> None:
    app, seen = build_app(max_bytes=200)
    payload = json.dumps({"text": "y" * 500}).encode()

    def stream() -> Iterator[bytes]:
        yield from (payload[i : i + 64] for i in range(0, len(payload), 64))

    response = TestClient(app).post(
        "/v1/cases/LL-1/notes", content=stream(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "note" not in seen


def test_per_path_override_allows_larger_uploads() -> None:
    app, _ = build_app(max_bytes=1000, overrides={"/v1/ingest": 10_000})
    client = TestClient(app)
    assert client.post("/v1/ingest", content=_chunks(8000)).json() == {"length": 8000}
    assert client.post("/v1/ingest", content=b"x" * 10_001).status_code == 413
    assert client.post("/v1/raw", content=_chunks(8000)).status_code == 413


def test_override_matching_is_by_path_segment() -> None:
    middleware = BodySizeLimitMiddleware(
        FastAPI(), max_bytes=10, overrides={"/v1/ingest": 100, "/v1/ingest/bulk/": 1000}
    )
    assert middleware.limit_for("/v1/ingest") == 100
    assert middleware.limit_for("/v1/ingest/cases") == 100
    assert middleware.limit_for("/v1/ingest/bulk/x") == 1000
    assert middleware.limit_for("/v1/ingestion") == 10


def test_malformed_content_length_is_a_400() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the app must not run")

    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/raw",
        "headers": [(b"content-length", b"12a")],
    }
    asyncio.run(BodySizeLimitMiddleware(app, max_bytes=10)(scope, receive, send))
    assert sent[0]["status"] == 400


def test_body_limit_with_a_real_server_and_chunked_upload() -> None:
    app, _ = build_app(max_bytes=1000)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            response = client.post("/v1/ingest", content=_chunks(100_000, size=4096))
            assert response.status_code == 413
            assert response.json()["code"] == "payload_too_large"
            ok = client.post("/v1/ingest", content=_chunks(500))
            assert ok.json() == {"length": 500}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
