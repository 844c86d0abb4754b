"""The HTTP API through the ASGI client: every endpoint, auth, problems, the review workflow."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_support import Api, api_client
from tests.service_support import SECRETS

WEBHOOKS = Path(__file__).parent / "data" / "webhooks"
TICKET = {
    "title": "Checkout payments failing for EU cards",
    "body": "Since this morning 30% of EU card payments fail with card_declined: do_not_honor.",
    "customer": "acme",
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_client(tmp_path, f"sqlite:///{tmp_path / 'api.db'}") as client:
        yield client


def _create(api: Api, body: dict | None = None, **headers: str) -> dict:
    r = api.client.post("/v1/cases", json=body or TICKET, headers=api.headers(**headers))
    assert r.status_code in (200, 202), r.text
    return r.json()


# --- auth: every endpoint is covered ---------------------------------------------------------
# (method, path, roles allowed). A new route must be added here or the coverage test fails.
ENDPOINTS: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/cases", {"admin", "engineer", "integration"}),
    ("GET", "/v1/cases", {"admin", "engineer", "kb_author", "integration"}),
    ("GET", "/v1/cases/{case_id}", {"admin", "engineer", "kb_author", "integration"}),
    ("GET", "/v1/cases/{case_id}/draft", {"admin", "engineer", "kb_author", "integration"}),
    ("POST", "/v1/cases/{case_id}/draft/regenerate", {"admin", "engineer"}),
    ("POST", "/v1/cases/{case_id}/review", {"admin", "engineer"}),
    ("GET", "/v1/cases/{case_id}/reviews", {"admin", "engineer", "kb_author", "integration"}),
    ("POST", "/v1/cases/{case_id}/resolve", {"admin", "engineer"}),
    ("GET", "/v1/cases/{case_id}/similar", {"admin", "engineer", "kb_author"}),
    ("POST", "/v1/search/cases", {"admin", "engineer", "kb_author"}),
    ("POST", "/v1/search/runbooks", {"admin", "engineer", "kb_author"}),
    ("PUT", "/v1/runbooks/{runbook_id}", {"admin", "kb_author"}),
    ("GET", "/v1/runbooks/{runbook_id}", {"admin", "engineer", "kb_author"}),
    ("DELETE", "/v1/runbooks/{runbook_id}", {"admin", "kb_author"}),
    ("POST", "/v1/ingest/{kind}", {"admin", "kb_author"}),
    ("GET", "/v1/jobs", {"admin", "engineer", "kb_author"}),
    ("GET", "/v1/jobs/{job_id}", {"admin", "engineer", "kb_author"}),
    ("POST", "/v1/jobs/{job_id}/retry", {"admin"}),
    ("POST", "/v1/keys", {"admin"}),
    ("GET", "/v1/keys", {"admin"}),
    ("DELETE", "/v1/keys/{key_id}", {"admin"}),
    ("GET", "/metrics", {"admin"}),
]
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}
SIGNED = {("POST", f"/v1/webhooks/{s}") for s in ("github", "zendesk", "jira")}


def test_the_auth_table_covers_every_route(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert routes == {(m, p) for m, p, _ in ENDPOINTS} | PUBLIC | SIGNED


@pytest.mark.parametrize(("method", "path", "roles"), ENDPOINTS)
def test_401_without_a_key_and_403_for_the_wrong_role(
    api: Api, method: str, path: str, roles: set[str]
) -> None:
    url = (
        path.replace("{case_id}", "nope")
        .replace("{runbook_id}", "nope")
        .replace("{job_id}", "999999")
        .replace("{key_id}", "nope")
        .replace("{kind}", "cases")
    )
    r = api.client.request(method, url, headers=api.headers(None))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers.get("www-authenticate", "").startswith("Bearer")
    r = api.client.request(method, url, headers={"Authorization": "Bearer cbk_bogus_key"})
    assert r.status_code == 401
    for role in ("admin", "engineer", "kb_author", "integration"):
        r = api.client.request(method, url, headers=api.headers(role))
        if role in roles:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.json()["code"] == "forbidden"


def test_public_endpoints(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "index": "ok"}


def test_a_revoked_key_stops_working(api: Api) -> None:
    r = api.client.post("/v1/keys", json={"role": "engineer", "name": "tmp"}, headers=api.headers())
    assert r.status_code == 201
    secret, key_id = r.json()["secret"], r.json()["key"]["id"]
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/cases", headers=auth).status_code == 200
    listed = api.client.get("/v1/keys", headers=api.headers()).json()
    assert secret not in json.dumps(listed)
    assert api.client.delete(f"/v1/keys/{key_id}", headers=api.headers()).status_code == 200
    assert api.client.get("/v1/cases", headers=auth).status_code == 401
    # X-API-Key works as well as Bearer.
    assert (
        api.client.get("/v1/cases", headers={"X-API-Key": api.keys["engineer"]}).status_code == 200
    )


# --- the workflow ----------------------------------------------------------------------------
def test_create_triage_review_resolve(api: Api) -> None:
    created = _create(api, role="integration")
    case_id = created["case_id"]
    assert created["draft_status"] == "queued" and created["created"] is True
    pending = api.client.get(f"/v1/cases/{case_id}/draft", headers=api.headers("engineer"))
    assert pending.json()["latest"] is None and pending.json()["draft_status"] == "queued"
    assert api.drain() == 1
    draft = api.client.get(f"/v1/cases/{case_id}/draft", headers=api.headers("engineer")).json()
    latest = draft["latest"]["draft"]
    assert draft["draft_status"] == "ready" and latest["routing"]["queue"] == "payments-api"
    assert latest["hypotheses"] and latest["customer_response"]
    r = api.client.post(
        f"/v1/cases/{case_id}/review",
        json={"action": "edit", "reviewer": "ana", "priority": "P1", "comment": "EU-wide"},
        headers=api.headers("engineer"),
    )
    assert r.status_code == 201 and r.json()["review"]["corrected_priority"] == "P1"
    reviews = api.client.get(f"/v1/cases/{case_id}/reviews", headers=api.headers("engineer"))
    assert [x["action"] for x in reviews.json()] == ["edit"]
    r = api.client.post(
        f"/v1/cases/{case_id}/resolve",
        json={
            "resolution": "Issuer outage; retried.",
            "root_cause": "issuer",
            "runbook_ids": [latest["related_runbooks"][0]["id"]],
        },
        headers=api.headers("engineer"),
    )
    assert r.status_code == 200 and r.json()["case"]["status"] == "resolved"
    found = api.client.post(
        "/v1/search/cases",
        json={"query": "EU card payments do_not_honor", "k": 5},
        headers=api.headers("engineer"),
    ).json()
    assert case_id in [h["doc_id"] for h in found]
    similar = api.client.get(f"/v1/cases/{case_id}/similar?k=3", headers=api.headers("engineer"))
    assert similar.status_code == 200 and len(similar.json()) == 3


def test_idempotency_key_over_http(api: Api) -> None:
    first = api.client.post(
        "/v1/cases", json=TICKET, headers=api.headers("integration", **{"Idempotency-Key": "k-1"})
    )
    again = api.client.post(
        "/v1/cases", json=TICKET, headers=api.headers("integration", **{"Idempotency-Key": "k-1"})
    )
    assert first.status_code == 202 and again.status_code == 202
    assert first.json() == again.json()
    other = api.client.post(
        "/v1/cases",
        json={**TICKET, "title": "other"},
        headers=api.headers("integration", **{"Idempotency-Key": "k-1"}),
    )
    assert other.status_code == 409 and other.json()["code"] == "conflict"
    page = api.client.get("/v1/cases", headers=api.headers()).json()
    assert len(page["items"]) == 1


def test_list_filters_and_cursor(api: Api) -> None:
    for i in range(7):
        _create(api, {**TICKET, "title": f"t{i}", "queue": "billing" if i % 2 else None})
    seen, cursor = [], None
    while True:
        url = "/v1/cases?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.client.get(url, headers=api.headers()).json()
        seen += [c["case"]["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 == len(set(seen))
    billing = api.client.get("/v1/cases?queue=billing", headers=api.headers()).json()
    assert len(billing["items"]) == 3
    bad = api.client.get("/v1/cases?cursor=garbage", headers=api.headers())
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"


def test_regenerate_and_versions(api: Api) -> None:
    case_id = _create(api)["case_id"]
    api.drain()
    r = api.client.post(f"/v1/cases/{case_id}/draft/regenerate", headers=api.headers("engineer"))
    assert r.status_code == 202
    api.drain()
    draft = api.client.get(f"/v1/cases/{case_id}/draft", headers=api.headers()).json()
    assert [v["version"] for v in draft["versions"]] == [1, 2]


def test_runbook_crud_and_upload_job(api: Api) -> None:
    h = api.headers("kb_author")
    body = {"title": "Rotate keys", "body": "# Rotate\n\n## Steps\n\nRun `ll keys rotate`."}
    assert (
        api.client.put("/v1/runbooks/ops/rotate-keys", json=body, headers=h).json()["outcome"]
        == "added"
    )
    assert (
        api.client.get("/v1/runbooks/ops/rotate-keys", headers=h).json()["title"] == "Rotate keys"
    )
    hits = api.client.post(
        "/v1/search/runbooks", json={"query": "ll keys rotate"}, headers=h
    ).json()
    assert hits[0]["doc_id"] == "ops/rotate-keys"
    assert api.client.delete("/v1/runbooks/ops/rotate-keys", headers=h).status_code == 204
    assert api.client.delete("/v1/runbooks/ops/rotate-keys", headers=h).status_code == 404
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("kb/a.md", "---\ntitle: Alpha\n---\n# Alpha\n\nalpha text")
        z.writestr("../evil.md", "# Evil\n\nescape")
    r = api.client.post(
        "/v1/ingest/runbooks", files={"file": ("kb.zip", archive.getvalue())}, headers=h
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    api.drain()
    job = api.client.get(f"/v1/jobs/{job_id}", headers=h).json()
    assert job["state"] == "done" and job["result"]["added"] == 1
    assert not (Path(api.container.settings.data_dir) / "evil.md").exists()
    bad = api.client.post("/v1/ingest/cases", files={"file": ("x.exe", b"1")}, headers=h)
    assert bad.status_code == 422


# --- problems ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x", "priority": "P9"},
        {"title": "x", "unknown": 1},
        {"title": "x", "tags": "notalist"},
        {"title": "x" * 501},
        {"title": "x", "external_id": "has space"},
        {"title": "x", "created_at": "yesterday"},
    ],
)
def test_bad_case_bodies_are_422_problems(api: Api, body: dict) -> None:
    r = api.client.post("/v1/cases", json=body, headers=api.headers())
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 422 and problem["errors"] and problem["request_id"]


def test_malformed_json_is_400(api: Api) -> None:
    r = api.client.post(
        "/v1/cases",
        content=b"{not json",
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith(
        "application/problem"
    )


def test_unknown_things_are_404_problems(api: Api) -> None:
    for url in ("/v1/cases/nope", "/v1/cases/nope/draft", "/v1/jobs/424242", "/v1/nothing"):
        r = api.client.get(url, headers=api.headers())
        assert r.status_code == 404 and r.json()["status"] == 404


def test_review_before_a_draft_is_409(api: Api) -> None:
    case_id = _create(api)["case_id"]
    r = api.client.post(
        f"/v1/cases/{case_id}/review",
        json={"action": "accept", "reviewer": "a"},
        headers=api.headers(),
    )
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"


def test_oversized_body_is_413(api: Api) -> None:
    big = {"title": "x", "body": "y" * (api.container.settings.max_body_bytes + 10)}
    r = api.client.post("/v1/cases", json=big, headers=api.headers())
    assert r.status_code == 413


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with api_client(tmp_path, f"sqlite:///{tmp_path / 'rl.db'}", rate_limit_per_minute=3) as api:
        codes = [api.client.get("/v1/cases", headers=api.headers()).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = api.client.get("/v1/cases", headers=api.headers())
        assert int(r.headers["retry-after"]) >= 1 and r.json()["code"] == "rate_limited"
        # Another key has its own bucket.
        assert api.client.get("/v1/cases", headers=api.headers("engineer")).status_code == 200


def test_metrics_after_traffic(api: Api) -> None:
    _create(api)
    api.drain()
    api.client.get("/v1/cases/nope", headers=api.headers())
    text = api.client.get("/metrics", headers=api.headers()).text
    assert 'casebook_request_seconds_count{method="POST",route="/v1/cases",status="202"}' in text
    assert "casebook_triage_seconds_count" in text
    assert 'casebook_job_queue_depth{state="done"} 1.0' in text
    assert 'casebook_errors_total{kind="not_found"}' in text


# --- webhooks ---------------------------------------------------------------------------------
def _github(api: Api, body: bytes, delivery: str, secret: str = SECRETS["github"]) -> object:
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return api.client.post(
        "/v1/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sig,
            "Content-Type": "application/json",
        },
    )


def test_github_webhook_creates_once_and_rejects_bad_signatures(api: Api) -> None:
    body = (WEBHOOKS / "github_issue_opened.json").read_bytes()
    first = _github(api, body, "d-1")
    assert first.status_code == 202, first.text
    ack = first.json()
    assert ack["outcome"] == "created" and ack["case_id"] == "github:ledgerline:ledgerline-node:412"
    replay = _github(api, body, "d-1")
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    redelivered = _github(api, body, "d-2")  # new delivery id, same issue
    assert redelivered.json()["outcome"] == "duplicate"
    assert api.drain() == 1
    assert _github(api, body, "d-3", secret="wrong").status_code == 401
    tampered = body.replace(b"opened", b"opened ", 1)
    sig = "sha256=" + hmac.new(SECRETS["github"].encode(), body, hashlib.sha256).hexdigest()
    r = api.client.post(
        "/v1/webhooks/github",
        content=tampered,
        headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": sig},
    )
    assert r.status_code == 401 and r.json()["code"] == "signature_invalid"
    case = api.client.get(f"/v1/cases/{ack['case_id']}", headers=api.headers()).json()
    assert case["case"]["source"] == "github"


def test_zendesk_and_jira_webhooks(api: Api) -> None:
    import base64
    from datetime import UTC, datetime

    body = (WEBHOOKS / "zendesk_ticket_created.json").read_bytes()
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(
        hmac.new(SECRETS["zendesk"].encode(), ts.encode() + body, hashlib.sha256).digest()
    ).decode()
    headers = {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts}
    r = api.client.post("/v1/webhooks/zendesk", content=body, headers=headers)
    assert r.status_code == 202 and r.json()["outcome"] == "created"
    assert api.client.post("/v1/webhooks/zendesk", content=body, headers=headers).status_code == 200
    stale = {**headers, "X-Zendesk-Webhook-Signature-Timestamp": "2020-01-01T00:00:00Z"}
    assert api.client.post("/v1/webhooks/zendesk", content=body, headers=stale).status_code == 401

    jira = (WEBHOOKS / "jira_issue_created.json").read_bytes()
    ok = api.client.post(
        "/v1/webhooks/jira", content=jira, headers={"X-Casebook-Webhook-Secret": SECRETS["jira"]}
    )
    assert ok.status_code == 202 and ok.json()["outcome"] == "created"
    assert api.client.post("/v1/webhooks/jira", content=jira).status_code == 401
    updated = (WEBHOOKS / "jira_issue_updated.json").read_bytes()
    ignored = api.client.post(
        "/v1/webhooks/jira", content=updated, headers={"X-Casebook-Webhook-Secret": SECRETS["jira"]}
    )
    assert ignored.status_code == 200 and ignored.json()["outcome"] == "ignored"
    garbage = api.client.post(
        "/v1/webhooks/jira", content=b"[1,2", headers={"X-Casebook-Webhook-Secret": SECRETS["jira"]}
    )
    assert 400 <= garbage.status_code < 500


def test_a_webhook_without_a_secret_is_refused(tmp_path: Path) -> None:
    with api_client(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", github_webhook_secret=None) as api:
        body = (WEBHOOKS / "github_issue_opened.json").read_bytes()
        r = _github(api, body, "d-1")
        assert r.status_code == 503 and r.json()["code"] == "not_configured"
