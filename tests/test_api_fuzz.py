"""Schema-driven fuzzing of the OpenAPI spec: no 500s, and every answer is one the spec documents.

Schemathesis generates valid and invalid requests for every operation from the app's own
OpenAPI document and checks the responses against it (status, content type, body schema).
It runs against the ASGI app on real storage: as admin on SQLite, unauthenticated (every keyed
route must answer a documented 401 problem), and a smaller pass on PostgreSQL, whose integers
and strings are stricter (int4 ids, no NUL bytes in text).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, text

from api.app import create_app
from core.settings import Settings
from tests.api_support import api_client
from tests.conftest import PG_URL
from tests.service_support import SECRETS, make_container

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PUBLIC = {"/healthz", "/readyz"}
# Bounded so the file runs in a minute or two; deterministic so CI sees the same cases each run.
# The admin pass on SQLite adds the coverage phase (boundary values, wrong types, missing
# parameters, unexpected methods); the others only fuzz, with fewer examples.
FULL = SchemathesisConfig.from_dict(
    {"generation": {"max-examples": 20, "no-shrink": True, "deterministic": True}}
)
LIGHT = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": 6, "no-shrink": True, "deterministic": True},
        "phases": {"coverage": {"enabled": False}},
    }
)
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
# The spec does not depend on settings or stores, so an app that is never started provides it.
SPEC = create_app(Settings(llm_model="")).openapi()
full_schema = schemathesis.openapi.from_dict(SPEC, config=FULL)
light_schema = schemathesis.openapi.from_dict(SPEC, config=LIGHT)


@dataclass
class Target:
    """A started-on-demand app and the admin key to call it with."""

    app: FastAPI
    admin_key: str

    def auth(self) -> dict[str, str]:
        """Headers carrying the admin key."""
        return {"Authorization": f"Bearer {self.admin_key}"}


def _target(tmp_path: Path, db_url: str) -> Iterator[Target]:
    container = make_container(tmp_path, db_url, seed_cases=40)
    key, _ = container.api_keys.create("admin", "fuzz admin")
    # Schemathesis runs the app's lifespan itself on the first request.
    yield Target(create_app(container=container, start_worker=False), key)
    container.database.dispose()


@pytest.fixture(scope="module")
def sqlite_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp_path = tmp_path_factory.mktemp("fuzz-sqlite")
    yield from _target(tmp_path, f"sqlite:///{tmp_path / 'fuzz.db'}")


@pytest.fixture(scope="module")
def pg_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    # One schema for the whole module (conftest's pg_url is per test, too slow to seed 27 times).
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # say clearly what is missing, whatever the driver raised
        pytest.fail(f"PostgreSQL at {PG_URL} is required for the fuzz tests: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield from _target(tmp_path_factory.mktemp("fuzz-pg"), url)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@full_schema.parametrize()
@FUZZ
def test_fuzz_as_admin_on_sqlite(case: schemathesis.Case, sqlite_target: Target) -> None:
    case.call_and_validate(app=sqlite_target.app, headers=sqlite_target.auth(), checks=CHECKS)


@light_schema.parametrize()
@FUZZ
def test_fuzz_without_a_key_is_a_documented_401(
    case: schemathesis.Case, sqlite_target: Target
) -> None:
    response = case.call_and_validate(app=sqlite_target.app, checks=CHECKS)
    if case.path not in PUBLIC:
        # Only a body the server cannot even read (bad JSON, too large) is refused before auth.
        assert response.status_code in (400, 401, 413), (case.path, response.status_code)


@light_schema.parametrize()
@FUZZ
def test_fuzz_as_admin_on_postgresql(case: schemathesis.Case, pg_target: Target) -> None:
    case.call_and_validate(app=pg_target.app, headers=pg_target.auth(), checks=CHECKS)


# --- inputs the fuzzer found (or could miss): each must be a client error on both backends ---
def _cursor(created_at: str, case_id: str) -> str:
    raw = json.dumps([created_at, case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


WEBHOOKS = Path(__file__).parent / "data" / "webhooks"
TICKET = {"title": "Checkout fails", "body": "card_declined for EU cards"}
EDGE_INPUTS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    # Ids beyond the 32-bit INTEGER columns (PostgreSQL: "integer out of range").
    ("GET", "/v1/jobs/2147483648", None, 422),
    ("GET", "/v1/jobs/99999999999999999999999", None, 422),
    ("POST", "/v1/jobs/9223372036854775808/retry", None, 422),
    ("GET", "/v1/jobs/0", None, 422),
    # NUL in ids, filters and bodies (PostgreSQL cannot store or compare it).
    ("GET", "/v1/cases/a%00b", None, 422),
    ("GET", "/v1/cases/a%00b/draft", None, 422),
    ("DELETE", "/v1/keys/k%00", None, 422),
    ("GET", "/v1/runbooks/r%00", None, 422),
    ("GET", "/v1/cases?queue=q%00", None, 422),
    ("GET", "/v1/cases?status=%00", None, 422),
    ("GET", "/v1/cases?cursor=" + _cursor("2024-01-01T00:00:00+00:00", "x\x00"), None, 422),
    ("POST", "/v1/cases", {**TICKET, "title": "a\x00b"}, 422),
    ("POST", "/v1/cases", {**TICKET, "metadata": {"k\x00": "v"}}, 422),
    ("POST", "/v1/cases", {**TICKET, "metadata": {"k": ["v\x00"]}}, 422),
    ("POST", "/v1/cases", {**TICKET, "tags": ["\x00"]}, 422),
    ("POST", "/v1/keys", {"role": "engineer", "name": "n\x00"}, 422),
    ("PUT", "/v1/runbooks/ok-id", {"title": "t\x00", "body": "some runbook text"}, 422),
    # Valid ISO datetimes that leave years 1-9999 once converted to UTC.
    ("POST", "/v1/cases", {**TICKET, "created_at": "0001-01-01T00:00:00+14:00"}, 422),
    ("POST", "/v1/cases", {**TICKET, "created_at": "9999-12-31T23:59:59-14:00"}, 422),
    ("GET", "/v1/cases?created_after=0001-01-01T00:00:00%2B14:00", None, 422),
    ("GET", "/v1/cases?created_before=9999-12-31T23:59:59-14:00", None, 422),
    ("GET", "/v1/cases?cursor=" + _cursor("0001-01-01T00:00:00+14:00", "x"), None, 422),
    # Too long for the id columns: no row can have it.
    ("GET", "/v1/cases/" + "x" * 201, None, 422),
    # A line break in a path segment matches no route.
    ("PUT", "/v1/runbooks/a%0Ab", {"title": "t", "body": "some runbook text"}, 404),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_edge_inputs_are_client_errors(backend: str, tmp_path: Path, request: Any) -> None:
    db_url = (
        f"sqlite:///{tmp_path / 'edge.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    wrong = []
    with api_client(tmp_path, db_url, seed_cases=None) as api:
        for method, path, body, expected in EDGE_INPUTS:
            r = api.client.request(method, path, json=body, headers=api.headers())
            media = r.headers.get("content-type", "")
            if r.status_code != expected or not media.startswith("application/problem+json"):
                wrong.append((method, path, body, r.status_code, media))
        # A signed webhook delivery is held to the same rule.
        issue = json.loads((WEBHOOKS / "github_issue_opened.json").read_text())
        issue["issue"]["title"] = "Crash \x00 on start"
        body = json.dumps(issue).encode()
        signature = hmac.new(SECRETS["github"].encode(), body, hashlib.sha256).hexdigest()
        hook = api.client.post(
            "/v1/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": "nul-1",
                "X-Hub-Signature-256": f"sha256={signature}",
                "Content-Type": "application/json",
            },
        )
        if hook.status_code != 422:
            wrong.append(("POST", "/v1/webhooks/github", "NUL title", hook.status_code, ""))
        # The same instant in another zone is fine, and is stored in UTC.
        created = api.client.post(
            "/v1/cases",
            json={**TICKET, "created_at": "2024-05-01T12:00:00+02:00"},
            headers=api.headers(),
        )
        assert created.status_code == 202, created.text
        case = api.client.get(f"/v1/cases/{created.json()['case_id']}", headers=api.headers())
        assert case.json()["case"]["created_at"].startswith("2024-05-01T10:00:00")
    assert not wrong, wrong


def test_every_documented_error_is_a_problem() -> None:
    # FastAPI's default 422 (application/json HTTPValidationError) would be wrong for this API.
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path not in PUBLIC:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
