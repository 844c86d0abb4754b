"""The web UI through the ASGI client: sign-in, sessions, CSRF, roles, every page, reviews."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.ui.charts import Point, line_chart, sparkline
from api.ui.coverage import ReportCache
from api.ui.evidence import mark_lines
from api.ui.rendering import highlight
from api.ui.review_form import ReviewForm, review_input
from api.ui.session import COOKIE_NAME, SessionCodec, UiSession, load_secret
from core.errors import ValidationFailed
from evals.runs import EvalRun, MetricValue, save_run
from kb_coverage.report import CoverageReport
from tests.api_support import Api, api_client
from tests.ui_support import csrf_of, seed_drafts, sign_in
from triage.draft import Hypothesis, PriorityCall, Provenance, Routing, TriageDraft


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """A fresh app with few past cases, for tests that change state."""
    with api_client(tmp_path, f"sqlite:///{tmp_path / 'ui.db'}", seed_cases=30) as client:
        yield client


@pytest.fixture
def seeded(api: Api) -> tuple[Api, list[str]]:
    return api, seed_drafts(api)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, list[str]]]:
    """One app with drafts for the read-only page tests (its coverage report is cached)."""
    tmp = tmp_path_factory.mktemp("ui-shared")
    with api_client(tmp, f"sqlite:///{tmp / 'ui.db'}", seed_cases=80) as client:
        yield client, seed_drafts(client)


def _case_page(api: Api, case_id: str) -> str:
    r = api.client.get(f"/ui/cases/{case_id}")
    assert r.status_code == 200, r.text
    return r.text


def _latest(api: Api, case_id: str) -> TriageDraft:
    latest = api.container.cases.drafts(case_id).latest
    assert latest is not None
    return latest.draft


def _review(api: Api, case_id: str, **fields: object) -> Any:  # the TestClient's response
    html = _case_page(api, case_id)
    draft = api.container.cases.drafts(case_id).latest
    assert draft is not None
    form: dict[str, object] = {
        "csrf": csrf_of(html),
        "draft_version": str(draft.version),
        "hypotheses_shown": "true",
        "hypotheses": [str(i) for i in range(len(draft.draft.hypotheses))],
        "queue": draft.draft.routing.queue,
        "priority": draft.draft.priority.level,
        "response": draft.draft.customer_response.replace("\n", "\r\n"),
        "reviewer": "ana",
        "comment": "",
    }
    form.update(fields)
    return api.client.post(f"/ui/cases/{case_id}/review", data=form, follow_redirects=False)


# --- sign-in and sessions -------------------------------------------------------------------
def test_pages_redirect_to_login_and_back_after_signing_in(api: Api) -> None:
    r = api.client.get("/ui/search?q=refund", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Fsearch%3Fq%3Drefund"
    page = api.client.get(r.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/ui/search?q=refund"' in page.text
    r = api.client.post(
        "/ui/login",
        data={
            "csrf": csrf_of(page.text),
            "api_key": api.keys["engineer"],
            "next": "/ui/search?q=refund",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/search?q=refund"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    # The cookie holds the key id, never the secret.
    payload = _unb64(api.client.cookies[COOKIE_NAME].split(".")[0]).decode()
    secret_part = api.keys["engineer"].rsplit("_", 1)[1]
    assert secret_part not in payload and json.loads(payload)["key_id"] in api.keys["engineer"]
    assert api.client.get("/ui/search?q=refund").status_code == 200


def test_a_bad_key_is_refused_on_the_login_page(api: Api) -> None:
    page = api.client.get("/ui/login")
    r = api.client.post(
        "/ui/login",
        data={"csrf": csrf_of(page.text), "api_key": "cbk_nope_nope", "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 401 and "Unknown or revoked API key" in r.text
    assert api.client.get("/ui/review", follow_redirects=False).status_code == 303


def test_landing_goes_to_each_roles_main_page(shared: tuple[Api, list[str]]) -> None:
    api = shared[0]
    for role, home in (("engineer", "/ui/review"), ("kb_author", "/ui/coverage"),
                       ("admin", "/ui/review")):  # fmt: skip
        sign_in(api.client, api.keys[role])
        r = api.client.get("/ui/", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, home), role


def test_next_never_leaves_the_ui(shared: tuple[Api, list[str]]) -> None:
    api = shared[0]
    page = api.client.get("/ui/login?next=https://evil.example/")
    assert "evil" not in page.text
    for target in ("https://evil.example/", "//evil.example/ui", "/v1/keys", "/ui\\..\\x"):
        api.client.cookies.clear()
        page = api.client.get("/ui/login")
        r = api.client.post(
            "/ui/login",
            data={"csrf": csrf_of(page.text), "api_key": api.keys["admin"], "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/ui/review", target


def test_tampered_expired_and_revoked_sessions_go_back_to_login(api: Api) -> None:
    sign_in(api.client, api.keys["engineer"])
    good = api.client.cookies[COOKIE_NAME]
    body, mac = good.split(".")
    forged = json.loads(_unb64(body))
    forged["key_id"] = api.container.api_keys.list()[0].id  # the admin key
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE_NAME, f"{_b64(json.dumps(forged).encode())}.{mac}")
    assert api.client.get("/ui/review", follow_redirects=False).status_code == 303
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE_NAME, good)  # the genuine cookie still works
    assert api.client.get("/ui/review", follow_redirects=False).status_code == 200
    # A revoked key ends its sessions at the next request.
    secret, key = api.container.api_keys.create("engineer", "short-lived")
    sign_in(api.client, secret)
    assert api.client.get("/ui/review").status_code == 200
    api.container.api_keys.revoke(key.id)
    r = api.client.get("/ui/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_logout_ends_the_session(api: Api) -> None:
    sign_in(api.client, api.keys["engineer"])
    page = api.client.get("/ui/review")
    r = api.client.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?signed_out=1"
    assert api.client.get("/ui/review", follow_redirects=False).status_code == 303


# --- CSRF ---------------------------------------------------------------------------------
def test_every_post_needs_the_sessions_csrf_token(seeded: tuple[Api, list[str]]) -> None:
    api, ids = seeded
    r = api.client.post("/ui/login", data={"api_key": api.keys["admin"]}, follow_redirects=False)
    assert r.status_code == 403 and "did not come from this site" in r.text
    sign_in(api.client, api.keys["admin"])
    posts = [
        (f"/ui/cases/{ids[0]}/review", {"action": "accept", "reviewer": "ana"}),
        ("/ui/coverage/refresh", {}),
        ("/ui/logout", {}),
    ]
    for url, data in posts:
        assert api.client.post(url, data=data).status_code == 403, url
        bad = api.client.post(url, data={**data, "csrf": "forged"}, follow_redirects=False)
        assert bad.status_code == 403, url
    assert api.container.cases.reviews(ids[0]) == []
    assert api.client.get("/ui/review").status_code == 200  # still signed in


# --- roles --------------------------------------------------------------------------------
PAGES = {
    "/ui/review": {"admin", "engineer"},
    "/ui/search": {"admin", "engineer", "kb_author"},
    "/ui/coverage": {"admin", "kb_author"},
    "/ui/evals": {"admin", "engineer", "kb_author"},
}


@pytest.mark.parametrize("role", ["admin", "engineer", "kb_author", "integration"])
def test_pages_follow_the_api_roles(shared: tuple[Api, list[str]], role: str) -> None:
    api = shared[0]
    sign_in(api.client, api.keys[role])
    for path, roles in PAGES.items():
        r = api.client.get(path, follow_redirects=False)
        if role in roles:
            assert r.status_code == 200, (role, path, r.text[:300])
        else:
            assert r.status_code == 403, (role, path)
            needed = " or ".join(sorted(roles, key=["admin", "engineer", "kb_author"].index))
            assert f"This page needs the role {needed}." in r.text
    nav = re.findall(r'<a href="(/ui/[a-z]+)"', api.client.get("/ui/login?next=").text)
    assert set(nav) <= {p for p, roles in PAGES.items() if role in roles}


def test_kb_author_reads_a_case_without_the_review_form(shared: tuple[Api, list[str]]) -> None:
    api, ids = shared
    sign_in(api.client, api.keys["kb_author"])
    html = _case_page(api, ids[0])
    assert 'id="review-form"' not in html and "Similar cases" in html
    r = api.client.post(
        f"/ui/cases/{ids[0]}/review",
        data={"csrf": csrf_of(html), "action": "accept", "reviewer": "x"},
    )
    assert r.status_code == 403


# --- pages --------------------------------------------------------------------------------
def test_review_queue_lists_ready_drafts_with_filters(shared: tuple[Api, list[str]]) -> None:
    api, ids = shared
    sign_in(api.client, api.keys["engineer"])
    html = api.client.get("/ui/review").text
    assert all(f"/ui/cases/{i}" in html for i in ids)
    queue = _latest(api, ids[1]).routing.queue
    filtered = api.client.get(f"/ui/review?queue={queue}").text
    assert f"/ui/cases/{ids[1]}" in filtered
    others = [i for i in ids if _latest(api, i).routing.queue != queue]
    assert others and all(f"/ui/cases/{i}" not in filtered for i in others)
    assert "No drafts match" in api.client.get("/ui/review?draft_status=reviewed").text
    for label in ('for="f-queue"', 'for="f-priority"', 'for="f-status"', 'for="f-draft_status"'):
        assert label in html


def test_case_page_shows_the_draft_beside_its_evidence(shared: tuple[Api, list[str]]) -> None:
    api, ids = shared
    sign_in(api.client, api.keys["engineer"])
    html = _case_page(api, ids[0])
    draft = _latest(api, ids[0])
    assert f'<option value="{draft.routing.queue}" selected>' in html
    assert f'<option value="{draft.priority.level}" selected>' in html
    assert html.count('name="hypotheses"') == len(draft.hypotheses) > 0
    assert 'id="review-response"' in html and "Questions to ask" in html
    assert "Similar cases" in html and 'class="explain"' in html
    assert "Runbook sections" in html and "<mark>" in html
    assert 'id="next-case"' in html  # j moves to the next draft in the queue
    assert "Shared signatures" in html
    webhook = _case_page(api, ids[1])
    assert "webhook_signature_invalid" in webhook
    missing = api.client.get("/ui/cases/no-such-case")
    assert missing.status_code == 404 and "Not found" in missing.text


def test_search_page_shows_both_kinds_with_explanations(shared: tuple[Api, list[str]]) -> None:
    api, _ = shared
    sign_in(api.client, api.keys["engineer"])
    html = api.client.get(
        "/ui/search", params={"q": "webhook signature verification failed", "kind": "both"}
    ).text
    assert 'id="res-case"' in html and 'id="res-runbook"' in html
    assert "webhooks/signature-verification" in html
    assert "<dt>BM25</dt>" in html and "<mark>" in html
    only = api.client.get(
        "/ui/search", params={"q": "refund", "kind": "runbook", "after": "", "queue": ""}
    )
    assert only.status_code == 200 and 'id="res-case"' not in only.text
    filtered = api.client.get(
        "/ui/search", params={"q": "payments failing", "kind": "case", "queue": "identity"}
    ).text
    assert "queue payments-api" not in filtered


def _coverage_page(api: Api, query: str = "") -> str:
    """The dashboard once its background report is ready (the pending page reloads itself)."""
    for _ in range(600):
        html = api.client.get(f"/ui/coverage{query}").text
        if "data-refresh-after" not in html:
            return html
        time.sleep(0.1)
    raise AssertionError("the coverage report never finished")


def test_coverage_dashboard_renders_its_chart_and_tables(shared: tuple[Api, list[str]]) -> None:
    api = shared[0]
    sign_in(api.client, api.keys["kb_author"])
    html = _coverage_page(api)
    assert '<svg class="chart" id="coverage-chart"' in html and "<polyline" in html
    assert 'role="img"' in html and '<title id="coverage-chart-t">' in html
    for heading in ("Gap clusters", "Spikes", "Runbook utility", "Stale candidates"):
        assert heading in html
    cache: ReportCache = getattr(api.client.app, "state").ui_coverage  # noqa: B009
    assert ("", "") in cache.windows_cached()
    r = api.client.post(
        "/ui/coverage/refresh", data={"csrf": csrf_of(html)}, follow_redirects=False
    )
    assert r.status_code == 303 and ("", "") not in cache.windows_cached()
    window = _coverage_page(api, "?since=2026-06-01&until=2026-06-30")
    assert 'value="2026-06-01"' in window and "KB coverage" in window


def test_coverage_page_waits_for_a_running_report(shared: tuple[Api, list[str]]) -> None:
    api = shared[0]
    sign_in(api.client, api.keys["kb_author"])
    assert "coverage-chart" in _coverage_page(api)  # (this also creates the report cache)
    cache: ReportCache = getattr(api.client.app, "state").ui_coverage  # noqa: B009
    release = threading.Event()

    def slow() -> CoverageReport:
        release.wait(30)
        raise ValidationFailed("no cases in 1999")

    job = cache.get(("1999-01-01", ""), slow)
    pending = api.client.get("/ui/coverage?since=1999-01-01").text
    assert "being computed" in pending and 'data-refresh-after="3"' in pending
    assert cache.get(("1999-01-01", ""), slow) is job  # one computation per window
    release.set()
    failed = _coverage_page(api, "?since=1999-01-01")
    assert "The coverage report failed: no cases in 1999" in failed and job.error


def test_evals_page_reads_stored_runs(api: Api) -> None:
    sign_in(api.client, api.keys["engineer"])
    assert "No eval runs yet" in api.client.get("/ui/evals").text
    runs = api.container.settings.eval_runs_path
    # Written by the eval suite's own code, so a change of its run format shows up here.
    for i, value in enumerate((0.70, 0.74)):
        metrics = {
            "retrieval/similar/hybrid/recall@10": MetricValue(
                value=value, ci=(value - 0.05, value + 0.05), n=40, headline=True
            ),
            "retrieval/similar/hybrid/latency": MetricValue(value=1.0, n=40),
        }
        run = EvalRun(
            run_id=f"2026112{i}T100000Z-nightly",
            name="nightly",
            suite="default",
            created_at=datetime(2026, 11, 20 + i, 10, tzinfo=UTC),
            git_commit="abcdef1234567890",
            metrics=metrics,
        )
        save_run(run, runs)
    (runs / "broken.json").write_text("{not json")
    html = api.client.get("/ui/evals").text
    assert "retrieval/similar/hybrid/recall@10" in html and "+0.040" in html
    assert "20261121T100000Z-nightly" in html and "broken.json" in html
    assert "latency" not in html.split("Recent runs")[0]  # only headline metrics trend


def test_static_files_and_security_headers(shared: tuple[Api, list[str]]) -> None:
    api = shared[0]
    css = api.client.get("/ui/static/ui.css")
    js = api.client.get("/ui/static/ui.js")
    assert css.status_code == 200 and ":focus-visible" in css.text
    assert js.status_code == 200 and "keydown" in js.text
    page = api.client.get("/ui/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert 'class="skip-link" href="#main"' in page.text and '<main id="main"' in page.text
    spec = api.client.get("/openapi.json").json()
    assert not [p for p in spec["paths"] if p.startswith("/ui")]


# --- reviews through the form -------------------------------------------------------------
def test_accepting_unchanged_stores_an_accept(seeded: tuple[Api, list[str]]) -> None:
    api, ids = seeded
    sign_in(api.client, api.keys["engineer"])
    r = _review(api, ids[0], action="accept", comment="looks right")
    assert r.status_code == 303
    assert "reviewed=" in r.headers["location"]
    [stored] = api.container.cases.reviews(ids[0])
    assert (stored.action, stored.reviewer, stored.comment) == ("accept", "ana", "looks right")
    assert stored.corrected_queue is None
    assert api.container.cases.get(ids[0]).draft_status == "reviewed"
    after = api.client.get(r.headers["location"])
    assert f"Review of {ids[0]} stored (accept)." in after.text


def test_changing_the_queue_then_accepting_stores_the_correction(
    seeded: tuple[Api, list[str]],
) -> None:
    api, ids = seeded
    sign_in(api.client, api.keys["engineer"])
    draft = _latest(api, ids[1])
    other = next(q for q in api.container.queues if q != draft.routing.queue)
    r = _review(api, ids[1], action="accept", queue=other, hypotheses=["0"])
    assert r.status_code == 303
    [stored] = api.container.cases.reviews(ids[1])
    assert stored.action == "edit" and stored.corrected_queue == other
    assert stored.data["hypotheses"] == [draft.hypotheses[0].statement]
    assert api.container.cases.get(ids[1]).case.queue == other


def test_edit_and_reject(seeded: tuple[Api, list[str]]) -> None:
    api, ids = seeded
    sign_in(api.client, api.keys["engineer"])
    r = _review(api, ids[2], action="edit", priority="P1", response="Hi,\r\nWe are on it.")
    assert r.status_code == 303
    r = _review(api, ids[0], action="reject", comment="wrong product", queue="billing")
    assert r.status_code == 303
    [edit] = api.container.cases.reviews(ids[2])
    assert edit.corrected_priority == "P1" and edit.data["response"] == "Hi,\nWe are on it."
    [reject] = api.container.cases.reviews(ids[0])
    assert (reject.action, reject.comment, reject.corrected_queue) == (
        "reject", "wrong product", None,
    )  # fmt: skip
    assert api.container.cases.get(ids[0]).draft_status == "rejected"


def test_an_edit_without_changes_is_explained_not_stored(seeded: tuple[Api, list[str]]) -> None:
    api, ids = seeded
    sign_in(api.client, api.keys["engineer"])
    r = _review(api, ids[0], action="edit")
    assert r.status_code == 422
    assert "Review not stored: edit needs at least one correction" in r.text
    assert api.container.cases.reviews(ids[0]) == []


# --- units ------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_session_codec_round_trip_tamper_and_expiry(tmp_path: Path) -> None:
    secret = load_secret(tmp_path / "session.key")
    assert load_secret(tmp_path / "session.key") == secret and len(secret) == 32
    assert (tmp_path / "session.key").stat().st_mode & 0o777 == 0o600
    codec = SessionCodec(secret)
    session = UiSession.fresh("abc123")
    value = codec.dumps(session)
    assert codec.loads(value) == session
    assert codec.loads(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
    assert SessionCodec(b"x" * 32).loads(value) is None
    assert codec.loads(value, now=time.time() + 9 * 3600) is None
    for junk in (None, "", "no-dot", "a.b.c", "!!!.???"):
        assert codec.loads(junk) is None


def _draft(n_hypotheses: int = 2) -> TriageDraft:
    return TriageDraft(
        case_id="c1",
        routing=Routing(queue="payments-api", confidence=0.7),
        priority=PriorityCall(level="P2"),
        hypotheses=[
            Hypothesis(statement=f"h{i}", likelihood=0.5, next_step="check")
            for i in range(n_hypotheses)
        ],
        customer_response="Hello\nWe are looking.",
        provenance=Provenance(mode="retrieval-only"),
    )


def test_review_form_maps_changes_to_the_review_input() -> None:
    draft = _draft()
    base = {
        "reviewer": "ana",
        "hypotheses_shown": True,
        "hypotheses": [0, 1],
        "queue": "payments-api",
        "priority": "P2",
        "response": "Hello\r\nWe are looking.",
    }

    def form(**changes: object) -> ReviewForm:
        return ReviewForm.model_validate({**base, **changes})

    assert review_input(form(action="accept"), draft).action == "accept"
    moved = review_input(form(action="accept", queue="billing"), draft)
    assert (moved.action, moved.queue, moved.priority, moved.hypotheses) == (
        "edit",
        "billing",
        None,
        None,
    )
    dropped = review_input(form(action="edit", hypotheses=[1]), draft)
    assert dropped.hypotheses == [1] and dropped.response is None
    rejected = review_input(form(action="reject", queue="billing"), draft)
    assert rejected.action == "reject" and rejected.queue is None
    # Without the checkboxes on the form, hypotheses are not a change.
    bare = ReviewForm(action="accept", reviewer="ana")
    assert review_input(bare, draft).action == "accept"


def test_mark_lines_marks_quotes_and_the_best_matching_lines() -> None:
    text = (
        "Intro line\nCheck the webhook signing secret rotation\n"
        "unrelated words\nSignature header t= and v1"
    )
    lines = mark_lines(text, {"webhook", "signing", "secret"}, ["Signature header t= and v1"])
    assert [line.marked for line in lines] == [False, True, False, True]


def test_highlight_escapes_text_and_marks_whole_words() -> None:
    out = str(highlight("<b>card</b> cards card_declined", ["card"]))
    assert out == "&lt;b&gt;<mark>card</mark>&lt;/b&gt; cards card_declined"


def test_line_chart_breaks_at_missing_weeks() -> None:
    points = [Point("W1", 0.5, 4), Point("W2", 0.75, 2), Point("W3", None), Point("W4", 1.0, 1)]
    svg = str(line_chart(points, title="t <x>", description="d", chart_id="c"))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3
    assert "t &lt;x&gt;" in svg and svg.count("<rect") == 3
    assert "<polyline" in str(sparkline([1.0, None, 3.0], label="s"))
