"""problem+json: every error kind maps to its status and an RFC 9457 body."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.metrics import Metrics
from api.problems import (
    PROBLEM_BASE,
    PROBLEM_STATUS,
    WWW_AUTHENTICATE,
    install_problem_handlers,
    problem_response,
)
from api.request_context import RequestContextMiddleware
from core.errors import (
    AuthError,
    CasebookError,
    ConfigError,
    Conflict,
    EmbeddingError,
    Forbidden,
    InvalidTransition,
    JobFailed,
    MappingError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RecordError,
    SignatureInvalid,
    StorageError,
    StoreError,
    Unauthorized,
    ValidationFailed,
)

EMAIL = "jane.doe@example.com"


class CaseIn(BaseModel):
    title: str = Field(min_length=3)
    priority: int


def _errors() -> dict[str, CasebookError]:
    return {
        "validation": ValidationFailed("priority must be P1-P4"),
        "record": RecordError("bad row", location="cases.csv:12"),
        "mapping": MappingError("column 'subject' missing"),
        "not_found": NotFound("case LL-1 not found"),
        "conflict": Conflict("idempotency key reused"),
        "transition": InvalidTransition("cannot close a new case"),
        "unauthorized": Unauthorized("no API key"),
        "signature": SignatureInvalid("signature does not verify"),
        "forbidden": Forbidden("viewer may not ingest"),
        "rate": RateLimited("slow down", retry_after=2.1),
        "too_large": PayloadTooLarge("body too large"),
        "storage": StorageError("postgresql://casebook:hunter2@db/cases unreachable"),
        "store": StoreError("chroma at 10.0.0.7 unreachable"),
        "config": ConfigError("CASEBOOK_SECRET missing at /etc/casebook.toml"),
        "other": JobFailed("job 7 failed"),
        "embedding": EmbeddingError("model file /models/x.onnx corrupt"),
        "auth_base": AuthError("auth failed"),
    }


EXPECTED = {
    "validation": (422, "validation_failed"),
    "record": (422, "record_error"),
    "mapping": (422, "mapping_error"),
    "not_found": (404, "not_found"),
    "conflict": (409, "conflict"),
    "transition": (409, "invalid_transition"),
    "unauthorized": (401, "unauthorized"),
    "signature": (401, "signature_invalid"),
    "forbidden": (403, "forbidden"),
    "rate": (429, "rate_limited"),
    "too_large": (413, "payload_too_large"),
    "storage": (503, "storage_error"),
    "store": (503, "store_error"),
    "config": (500, "config_error"),
    "other": (500, "job_failed"),
    "embedding": (500, "embedding_error"),
    "auth_base": (401, "unauthorized"),
}


def build_app(metrics: Metrics | None = None) -> FastAPI:
    app = FastAPI()
    errors = _errors()

    @app.get("/v1/raise/{kind}")
    def raise_kind(kind: str) -> None:
        raise errors[kind]

    @app.post("/v1/cases")
    def create_case(case: CaseIn) -> dict[str, str]:
        return {"title": case.title}

    @app.get("/v1/crash")
    def crash() -> None:
        raise RuntimeError(f"secret internals for {EMAIL}")

    @app.post("/v1/manual-json")
    async def manual_json(request: Request) -> dict[str, object]:
        return dict(json.loads(await request.body()))

    @app.get("/v1/unparseable")
    def unparseable() -> None:
        try:
            json.loads("{nope")
        except json.JSONDecodeError as exc:
            raise RecordError("body is not JSON") from exc

    install_problem_handlers(app, metrics)
    app.add_middleware(RequestContextMiddleware)
    return app


@pytest.fixture()
def client() -> TestClient:
    return TestClient(build_app(), raise_server_exceptions=False)


def test_the_mapping_covers_every_expected_case() -> None:
    assert set(EXPECTED) == set(_errors())


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_error_kind_maps_to_its_status_and_problem_body(client: TestClient, kind: str) -> None:
    status, code = EXPECTED[kind]
    response = client.get(f"/v1/raise/{kind}", headers={"X-Request-ID": f"req-{kind}"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_BASE + code
    assert body["title"] == code.replace("_", " ").capitalize()
    assert body["instance"] == f"/v1/raise/{kind}"
    assert body["request_id"] == f"req-{kind}"
    assert response.headers["x-request-id"] == f"req-{kind}"
    if status < 500:
        assert body["detail"] == _errors()[kind].message


@pytest.mark.parametrize("kind", ["storage", "store", "config", "other", "embedding"])
def test_server_errors_do_not_echo_their_internal_message(client: TestClient, kind: str) -> None:
    response = client.get(f"/v1/raise/{kind}")
    assert _errors()[kind].message not in response.text
    assert "quote the request id" in response.json()["detail"]


def test_unauthorized_carries_a_challenge_but_a_bad_webhook_signature_does_not(
    client: TestClient,
) -> None:
    assert client.get("/v1/raise/unauthorized").headers["www-authenticate"] == WWW_AUTHENTICATE
    assert "www-authenticate" not in client.get("/v1/raise/signature").headers


def test_rate_limited_sends_retry_after_rounded_up_to_whole_seconds(client: TestClient) -> None:
    response = client.get("/v1/raise/rate")
    assert response.headers["retry-after"] == "3"  # 2.1 s


def test_record_error_reports_its_location(client: TestClient) -> None:
    body = client.get("/v1/raise/record").json()
    assert body["errors"] == [{"loc": ["cases.csv:12"], "msg": "bad row", "type": "record_error"}]


def test_an_unparseable_body_is_a_400_not_a_422(client: TestClient) -> None:
    response = client.get("/v1/unparseable")
    assert response.status_code == 400
    assert response.json()["code"] == "record_error"


def test_validation_error_lists_errors_without_echoing_input(client: TestClient) -> None:
    response = client.post("/v1/cases", json={"title": EMAIL[:2], "priority": EMAIL})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["type"] == PROBLEM_BASE + "validation_failed"
    locs = sorted(tuple(e["loc"]) for e in body["errors"])
    assert locs == [("body", "priority"), ("body", "title")]
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}
    assert EMAIL not in response.text
    assert '"ja"' not in response.text and "input" not in response.text


def test_invalid_json_body_is_a_400_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/cases", content=b'{"title": "x", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_json"


def test_json_decode_error_raised_by_a_route_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/manual-json", content=b"{broken")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"
    assert body["code"] == "not_found"
    assert body["instance"] == "/v1/nothing-here"
    assert "detail" not in body  # it would only repeat the title


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/v1/cases")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


def test_crash_is_a_500_problem_without_internals(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="casebook.api"):
        response = client.get("/v1/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Internal error"
    assert body["code"] == "internal_error"
    assert body["request_id"] == "crash-1"
    assert response.headers["x-request-id"] == "crash-1"
    for leak in ("Traceback", "RuntimeError", "secret internals", EMAIL, "test_api_problems"):
        assert leak not in response.text
    # The traceback goes to the log, tied to the request id.
    records = [r for r in caplog.records if r.name == "casebook.api"]
    assert records and records[0].exc_info is not None
    assert "RuntimeError" in caplog.text


def test_problem_handlers_count_errors_by_kind() -> None:
    metrics = Metrics()
    client = TestClient(build_app(metrics), raise_server_exceptions=False)
    client.get("/v1/raise/not_found")
    client.get("/v1/raise/not_found")
    client.get("/v1/crash")
    text = metrics.render()[0].decode()
    assert 'casebook_errors_total{kind="not_found"} 2.0' in text
    assert 'casebook_errors_total{kind="internal_error"} 1.0' in text


def test_the_mapping_table_is_extensible_and_follows_subclasses(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Gone(NotFound):
        code = "gone"

    app = build_app()

    @app.get("/v1/gone")
    def gone() -> None:
        raise Gone("archived")

    local = TestClient(app)
    assert local.get("/v1/gone").status_code == 404  # inherits NotFound's status
    monkeypatch.setitem(PROBLEM_STATUS, Gone, 410)
    response = local.get("/v1/gone")
    assert response.status_code == 410
    assert response.json()["type"] == PROBLEM_BASE + "gone"


def test_problem_response_can_be_built_directly() -> None:
    response = problem_response(
        422,
        "Validation failed",
        "bad",
        code="validation_failed",
        errors=[{"loc": ("body", "x"), "msg": "m", "type": "t", "input": EMAIL, "ctx": {}}],
        instance="/v1/x",
        request_id="r1",
    )
    body = json.loads(bytes(response.body))
    assert response.media_type == "application/problem+json"
    assert body == {
        "type": PROBLEM_BASE + "validation_failed",
        "title": "Validation failed",
        "status": 422,
        "detail": "bad",
        "instance": "/v1/x",
        "code": "validation_failed",
        "request_id": "r1",
        "errors": [{"loc": ["body", "x"], "msg": "m", "type": "t"}],
    }
    plain = json.loads(bytes(problem_response(404, "Not Found").body))
    assert plain == {"type": "about:blank", "title": "Not Found", "status": 404}
